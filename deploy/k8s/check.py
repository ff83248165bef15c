#!/usr/bin/env python3
"""Asserts the deployment's properties on a rendered overlay (make k8s-check):

  check.py RENDERED.yaml

Every Deployment runs non-root with a read-only root filesystem, no privilege escalation, no
capabilities and the RuntimeDefault seccomp profile; has requests and limits, startup,
readiness and liveness probes, rolling updates with maxUnavailable 0 and a PodDisruptionBudget;
takes its database URL, admin tokens, signing keys (and the gatekeeper's service token) from
Secrets, never from a ConfigMap. The gatekeeper has an HPA. The namespace denies all traffic by
default; the services accept it only from the gatekeeper, operator tooling and Prometheus; the
gatekeeper's public port only from the ingress controller and its ops port only from
Prometheus and operator tooling; every pod may resolve names. No Service leaves the cluster.
The last line counts the checks ('N passed, N failed'); exit 1 on any failure.
"""
import sys

import yaml

PASSED, FAILED = [], []
# Settings whose values are credentials: they must come from Secrets.
SECRET_SETTINGS = ("__TOKENS", "_TOKEN", "__SIGNING_KEYS", "DATABASE__URL", "REDIS_URL", "REVOCATIONS__URL",
                   "PASSWORD", "SECRET")


def check(name, ok):
    (PASSED if ok else FAILED).append(name)
    if not ok:
        print(f"FAIL {name}")


def by_kind(docs, kind):
    return [d for d in docs if d["kind"] == kind]


def selects(selector, labels):
    return all(labels.get(k) == v for k, v in (selector or {}).get("matchLabels", {}).items())


def secret_env(container):
    return {e["name"]: e["valueFrom"]["secretKeyRef"]["name"]
            for e in container.get("env", [])
            if "secretKeyRef" in e.get("valueFrom", {})}


def container_settings(docs, container):
    """The settings a container gets from its ConfigMaps (envFrom)."""
    names = {e["configMapRef"]["name"] for e in container.get("envFrom", []) if "configMapRef" in e}
    out = {}
    for cm in by_kind(docs, "ConfigMap"):
        if cm["metadata"]["name"] in names:
            out.update(cm.get("data", {}))
    return out


def deployments(docs):
    pdbs, hpas = by_kind(docs, "PodDisruptionBudget"), by_kind(docs, "HorizontalPodAutoscaler")
    for d in by_kind(docs, "Deployment"):
        name, spec = d["metadata"]["name"], d["spec"]
        pod = spec["template"]["spec"]
        labels = spec["template"]["metadata"]["labels"]
        psc = pod.get("securityContext", {})
        check(f"{name}: runAsNonRoot", psc.get("runAsNonRoot") is True)
        check(f"{name}: numeric non-root uid", isinstance(psc.get("runAsUser"), int) and psc["runAsUser"] > 0)
        check(f"{name}: seccomp RuntimeDefault", psc.get("seccompProfile", {}).get("type") == "RuntimeDefault")
        check(f"{name}: no service account token", pod.get("automountServiceAccountToken") is False)
        roll = spec.get("strategy", {})
        check(f"{name}: rolling update, maxUnavailable 0",
              roll.get("type") == "RollingUpdate" and roll.get("rollingUpdate", {}).get("maxUnavailable") == 0)
        for c in pod["containers"]:
            settings = container_settings(docs, c)
            drain = next((int(v) for k, v in settings.items() if k.endswith("__SERVER__DRAIN_SECS")), 0)
            check(f"{name}: drains before stopping (SERVER__DRAIN_SECS)", drain > 0)
            check(f"{name}: the grace period covers the drain and the 30 s shutdown timeout",
                  pod.get("terminationGracePeriodSeconds", 30) > drain + 30)
            csc = c.get("securityContext", {})
            check(f"{name}: no privilege escalation", csc.get("allowPrivilegeEscalation") is False)
            check(f"{name}: read-only root filesystem", csc.get("readOnlyRootFilesystem") is True)
            check(f"{name}: all capabilities dropped", csc.get("capabilities", {}).get("drop") == ["ALL"])
            check(f"{name}: not privileged", csc.get("privileged") is not True)
            res = c.get("resources", {})
            check(f"{name}: cpu and memory requests",
                  {"cpu", "memory"} <= set(res.get("requests", {})))
            check(f"{name}: a memory limit", "memory" in res.get("limits", {}))
            for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
                check(f"{name}: {probe}", probe in c)
            secrets = secret_env(c)
            wanted = ["ADMIN__TOKENS", "IDENTITY__SIGNING_KEYS"]
            wanted += (["VERIFY__SERVICE_TOKEN", "REVOCATIONS__URL"] if name == "gatekeeper"
                       else ["DATABASE__URL"])
            wanted += ["SERVICE__TOKENS"] if name == "auth-token" else []
            for key in wanted:
                check(f"{name}: {key} from a Secret", any(k.endswith(key) for k in secrets))
        check(f"{name}: a PodDisruptionBudget",
              any(selects(p["spec"]["selector"], labels) for p in pdbs))
        replicas = spec.get("replicas", 1)
        check(f"{name}: its PodDisruptionBudget lets a drain proceed",
              all(p["spec"].get("minAvailable", 0) < replicas
                  for p in pdbs if selects(p["spec"]["selector"], labels)))
    check("gatekeeper: an HPA",
          any(h["spec"]["scaleTargetRef"]["name"] == "gatekeeper" for h in hpas))
    for cm in by_kind(docs, "ConfigMap"):
        for key in cm.get("data", {}):
            check(f"configmap {cm['metadata']['name']}: {key} is no secret",
                  not key.upper().endswith(SECRET_SETTINGS))


def network(docs):
    policies = by_kind(docs, "NetworkPolicy")
    pods = {d["metadata"]["name"]: d["spec"]["template"]["metadata"]["labels"]
            for d in by_kind(docs, "Deployment")}
    check("a default-deny policy for every pod, both directions",
          any(p["spec"]["podSelector"] == {} and set(p["spec"]["policyTypes"]) == {"Ingress", "Egress"}
              and not p["spec"].get("ingress") and not p["spec"].get("egress") for p in policies))
    for name, labels in pods.items():
        mine = [p for p in policies if selects(p["spec"]["podSelector"], labels)]
        rules = [r for p in mine for r in p["spec"].get("ingress", [])]
        check(f"{name}: no ingress rule open to all", all(r.get("from") for r in rules))
        check(f"{name}: may resolve names", any(
            any(port.get("port") == 53 for port in r.get("ports", []))
            for p in mine for r in p["spec"].get("egress", [])))
        check(f"{name}: no egress rule open to all", all(
            r.get("to") for p in mine for r in p["spec"].get("egress", [])))
        peers = [peer for r in rules for peer in r["from"]]
        if name == "gatekeeper":
            public = [r for r in rules if any(pt.get("port") == 4000 for pt in r.get("ports", []))]
            check("gatekeeper: port 4000 only from the ingress controller's namespace", public and all(
                peer.get("namespaceSelector") and not peer.get("podSelector") for r in public for peer in r["from"]))
            ops = [r for r in rules if any(pt.get("port") == 4001 for pt in r.get("ports", []))]
            check("gatekeeper: ops port only from Prometheus and operator tooling", ops and all(
                peer.get("podSelector", {}).get("matchLabels", {}).get("app.kubernetes.io/name") == "prometheus"
                or peer.get("podSelector", {}).get("matchLabels", {}).get("ehealth.gov.ua/operator") == "true"
                for r in ops for peer in r["from"]))
        else:
            allowed = {"gatekeeper", "prometheus"}
            check(f"{name}: ingress only from the gatekeeper, operator tooling and Prometheus", rules and all(
                peer.get("podSelector", {}).get("matchLabels", {}).get("app.kubernetes.io/name") in allowed
                or peer.get("podSelector", {}).get("matchLabels", {}).get("ehealth.gov.ua/operator") == "true"
                for peer in peers))
            check(f"{name}: reaches PostgreSQL", any(
                any(pt.get("port") == 5432 for pt in r.get("ports", []))
                for p in mine for r in p["spec"].get("egress", [])))
    for s in by_kind(docs, "Service"):
        check(f"service {s['metadata']['name']}: cluster-internal",
              s["spec"].get("type", "ClusterIP") == "ClusterIP")


def namespace(docs):
    spaces = by_kind(docs, "Namespace")
    check("one Namespace, enforcing the restricted pod security standard", len(spaces) == 1 and
          spaces[0]["metadata"].get("labels", {}).get("pod-security.kubernetes.io/enforce") == "restricted")
    name = spaces[0]["metadata"]["name"] if spaces else None
    for d in docs:
        if d["kind"] != "Namespace":
            check(f"{d['kind']} {d['metadata']['name']}: in the namespace",
                  d["metadata"].get("namespace") == name)


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    with open(sys.argv[1]) as f:
        docs = [d for d in yaml.safe_load_all(f) if d]
    deployments(docs)
    network(docs)
    namespace(docs)
    overlay = sys.argv[1].rsplit("/", 1)[-1].removesuffix(".yaml")
    print(f"k8s-check {overlay}: {len(PASSED)} passed, {len(FAILED)} failed")
    sys.exit(1 if FAILED else 0)


if __name__ == "__main__":
    main()
