"""Priority: sweep the P0 rule threshold and the learnt-P0 probability on held-out cases.

Trains the priority model on the KB's tickets, scores the dev and red-team sets
(held out from the KB), and prints accuracy, within-one accuracy and P0 hits
and false alarms for each setting. assistant/priority.py's constants come from here.

    python benchmarks/bench_priority.py
"""
import sys
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import json, numpy as np
from pathlib import Path
from assistant.models import SupportRequest
from assistant.priority import PriorityModel
from ingestion.loader import KnowledgeBaseLoader
from retrieval.embedder import Embedder
e = Embedder.default(); kb = KnowledgeBaseLoader().run(Path("kb/sample"))
t = [d for d in kb.tickets]
pm = PriorityModel(e, p0_threshold=9.9).fit([d.classifier_text for d in t], [d.priority for d in t])
rows = [json.loads(l) for l in open("evals/data/dev.jsonl")] + [json.loads(l) for l in open("evals/data/redteam.jsonl")]
rows = [r for r in rows if r["expected"].get("priority")]
T = [SupportRequest.model_validate(c).text for c in rows]; Y = [c["expected"]["priority"] for c in rows]
V = e.encode_queries(T)
P = pm.model.predict_proba(V); cls = list(pm.model.classes_)
sims = np.array([pm.p0_signal(x)[1] for x in T])
for th_rule in (0.62, 0.7, 0.75, 0.8, 2):
  for p0p in (0.3, 0.4, 0.5, 1.1):
    pred = []
    for i in range(len(T)):
        pr = P[i].copy()
        if sims[i] >= th_rule or pr[cls.index("P0")] >= p0p: pred.append("P0"); continue
        pr[cls.index("P0")] = 0; pred.append(cls[int(np.argmax(pr))])
    pred = np.array(pred); y = np.array(Y)
    tp = ((pred=="P0")&(y=="P0")).sum(); fp=((pred=="P0")&(y!="P0")).sum(); fn=((pred!="P0")&(y=="P0")).sum()
    w1 = np.mean([abs(int(a[1])-int(b[1]))<=1 for a,b in zip(pred,y)])
    print(th_rule, p0p, "acc %.3f within1 %.3f P0 tp %d fp %d fn %d" % ((pred==y).mean(), w1, tp, fp, fn))
