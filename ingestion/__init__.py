"""Reading a knowledge-base folder: validation, chunking and incremental indexing."""
