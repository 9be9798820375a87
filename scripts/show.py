"""Print `assistant ask` results (JSON lines on stdin) readably on a terminal.

    assistant ask --index .index < kb/sample/requests.jsonl | python scripts/show.py
"""

import json
import sys

from rich.console import Console
from rich.panel import Panel

console = Console()
for line in sys.stdin:
    if not line.strip():
        continue
    r = json.loads(line)
    if "error" in r:
        console.print(Panel(r["error"]["message"], title=f"{r.get('id')}: error", style="red"))
        continue
    head = (f"[bold]{r['category']}[/] ({r['category_confidence']:.2f})  {r['priority']}  "
            f"route=[bold]{r['route']}[/]  queue={r['queue']}")
    if r["reasons"]:
        head += f"  reasons={','.join(r['reasons'])}"
    cites = "\n".join(f"  [{c['source_id']}] {c['title']} ({c['score']:.2f})" for c in r["citations"][:3])
    body = f"{head}\n\n{r['answer']}\n\n[dim]citations:\n{cites}[/]"
    console.print(Panel(body, title=str(r.get("id")), style="green" if r["route"] == "answer" else "yellow"))
