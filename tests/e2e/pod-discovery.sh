#!/usr/bin/env bash
# Prometheus file_sd targets from the API server's pods, every 2 s (the lane's stand-in for kubernetes_sd_configs,
# which Debian's Prometheus lacks): running pods annotated prometheus.io/scrape=true, on prometheus.io/port (else
# 9464) and prometheus.io/path (else /metrics), labelled namespace, pod and their serving.gru.dev/* labels with every
# character outside [a-zA-Z0-9_] as '_' (what a PodMonitor's relabelling gives).
#   pod-discovery.sh KUBECONFIG OUTPUT.json
set -uo pipefail
kubeconfig=$1 out=$2
while :; do
  if kubectl --kubeconfig "$kubeconfig" get pods -A -o json 2> /dev/null | jq '[.items[]
      | select(.status.phase == "Running" and (.status.podIP // "") != "" and .metadata.deletionTimestamp == null
               and (.metadata.annotations // {})["prometheus.io/scrape"] == "true")
      | {targets: ["\(.status.podIP):\(.metadata.annotations["prometheus.io/port"] // "9464")"],
         labels: ({namespace: .metadata.namespace, pod: .metadata.name,
                   __metrics_path__: (.metadata.annotations["prometheus.io/path"] // "/metrics")}
                  + ((.metadata.labels // {}) | with_entries(select(.key | startswith("serving.gru.dev/"))
                                                             | .key |= gsub("[^a-zA-Z0-9_]"; "_"))))}]' > "$out.tmp"; then
    cmp -s "$out.tmp" "$out" || mv "$out.tmp" "$out"
  fi
  sleep 2
done
