#!/usr/bin/env python3
"""The greedy-vs-gradient table of docs/claims-aip-text.md from scripts/claims-aip-text.sh's
runs: OUT/c{0,1,2}-{gradient,greedy}-{both,a}/result.json. Wilson 95% intervals for rates,
exact McNemar over the sentence pairs.
Usage: scripts/claims-aip-text-steps.py OUT"""
import json, os, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from paired import mcnemar_exact, wilson  # noqa: E402
OUT = sys.argv[1]

def load(cs,s,o): return json.load(open(f'{OUT}/c{cs}-{s}-{o}/result.json'))
for o in ['both','a']:
  for s in ['gradient','greedy']:
    V=G=OR=IG=0; tok=[]; secs=[]; steps=[]; per=[]
    for cs in range(3):
      r=load(cs,s,o); secs.append(r['summary']['seconds_per_item'])
      for it in r['items']:
        v=it['valid']; V+=v; steps.append(it['steps'])
        if v: tok.append(it['tokens_changed'])
        if v and it['in_grammar']:
          G+=1; ch=set(it['grammar_changed_attributes'])
          if ch and ch<= {'positive','negated'}: OR+=1
          if ch & {'film','past'}: IG+=1
    n=600; lo,hi=wilson(V,n); glo,ghi=wilson(OR,G)
    print(f"{o:5s} {s:8s} valid {V}/{n}={V/n:.3f} [{lo:.3f},{hi:.3f}] in-grammar {G} only-rule {OR}/{G}={OR/G:.3f} [{glo:.3f},{ghi:.3f}] ignored {IG} tokens {sum(tok)/len(tok):.2f} steps {sum(steps)/len(steps):.1f} s/item {min(secs):.4f}-{max(secs):.4f}")
  # paired
  b=c=gb=gc=0
  for cs in range(3):
    A=load(cs,'gradient',o)['items']; B=load(cs,'greedy',o)['items']
    for x,y in zip(A,B):
      assert x['text']==y['text']
      if y['valid'] and not x['valid']: b+=1
      if x['valid'] and not y['valid']: c+=1
      gx=x['valid'] and x['in_grammar']; gy=y['valid'] and y['in_grammar']
      if gy and not gx: gb+=1
      if gx and not gy: gc+=1
  p=mcnemar_exact(b,c); gp=mcnemar_exact(gb,gc)
  print(f"  {o}: validity greedy-only/gradient-only {b}/{c} p={p:.2g}; valid-in-grammar {gb}/{gc} p={gp:.2g}")
