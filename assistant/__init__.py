"""PAM support triage and answer assistant."""

__version__ = "0.1.0"


def limit_blas_threads() -> None:
    """One BLAS thread for this process; call it once, where a process starts serving.

    A request's numpy work is a few small products. With 2 BLAS threads, OpenBLAS keeps
    them spinning after each product and the next encoder pass (torch's own threads)
    runs at half speed: on 2 cores that cost 70 ms per embedding in
    benchmarks/bench_speed.py. With one BLAS thread torch keeps the cores. The CLI, the
    HTTP app and the benchmarks call it; a program that embeds the Pipeline should too.
    """
    # The limit reaches only the BLAS libraries already loaded: numpy and scipy each ship
    # their own OpenBLAS, so both are loaded first (tests/test_blas_threads.py checks).
    import numpy  # noqa: F401
    import scipy.linalg  # noqa: F401
    from threadpoolctl import threadpool_limits

    threadpool_limits(1, user_api="blas")
