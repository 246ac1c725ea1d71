#!/usr/bin/env python3
"""Writes samples/argocd/argocd-cm.yaml: the argocd-cm patch whose health check is samples/argocd/health.lua verbatim."""
from pathlib import Path

root = Path(__file__).resolve().parent.parent
lua = (root / "samples/argocd/health.lua").read_text()
body = "".join("    " + line if line.strip() else "\n" for line in lua.splitlines(True))
(root / "samples/argocd/argocd-cm.yaml").write_text("""# Merge into Argo CD's argocd-cm ConfigMap (namespace argocd), e.g.
#   kubectl -n argocd patch configmap argocd-cm --type merge --patch-file samples/argocd/argocd-cm.yaml
# The Lua body is samples/argocd/health.lua verbatim (a test checks it). Regenerate with:
#   python3 hack/gen-argocd-cm.py
apiVersion: v1
kind: ConfigMap
metadata:
  name: argocd-cm
  namespace: argocd
data:
  resource.customizations.health.serving.gemma.io_GemmaModel: |
""" + body)
