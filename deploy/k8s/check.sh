#!/usr/bin/env bash
# make k8s-check: renders every overlay with kustomize (kubectl's), validates every object
# strictly against the Kubernetes schemas (kubernetes-validate, pinned; its schemas ship in the
# package) and asserts the deployment's properties (check.py).
# Env: K8S_VERSION (1.32.0): the Kubernetes version to validate against.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$ROOT"
K8S_VERSION="${K8S_VERSION:-1.32.0}"
VALIDATE_VERSION=1.37.0
OUT="$ROOT/target/k8s"
mkdir -p "$OUT"
if [ "$(python3 -c 'import importlib.metadata as m; print(m.version("kubernetes-validate"))' 2>/dev/null)" != "$VALIDATE_VERSION" ]; then
  python3 -m pip install -q "kubernetes-validate==$VALIDATE_VERSION"
fi
command -v kubectl >/dev/null || { echo "kubectl (with its built-in kustomize) is required" >&2; exit 1; }
status=0
for overlay in deploy/k8s/overlays/*/; do
  name=$(basename "$overlay")
  kubectl kustomize "$overlay" > "$OUT/$name.yaml"
  if python3 -m kubernetes_validate --strict --quiet -k "$K8S_VERSION" "$OUT/$name.yaml"; then
    echo "k8s-check $name: $(grep -c '^kind:' "$OUT/$name.yaml") objects valid against Kubernetes $K8S_VERSION (strict)"
  else
    status=1
  fi
  python3 deploy/k8s/check.py "$OUT/$name.yaml" || status=1
done
exit $status
