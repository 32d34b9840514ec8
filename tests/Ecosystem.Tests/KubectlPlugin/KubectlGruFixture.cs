using System.Diagnostics;
using System.Text;
using Ecosystem.Tests.Cluster;
using TestSupport;

namespace Ecosystem.Tests.KubectlPlugin;

/// <summary>
/// A LocalCluster with the GruModel CRD, a GruModel mid-canary in namespace ml (status written through the status
/// subresource, as the operator would) and a plain one in default, a second kubeconfig context "ml" defaulting to
/// namespace ml, and the built kubectl-gru run against it.
/// </summary>
public sealed class KubectlGruFixture : IAsyncLifetime
{
    public const string CanaryStatus = """
        {"status": {"observedGeneration": 1, "phase": "Progressing", "message": "canary step 1/2 at 10%, analysis 3/3 passed", "ready": "3/3", "replicas": 4, "selector": "serving.gru.dev/model=session-recs",
          "conditions": [{"type": "Ready", "status": "True", "reason": "StableServing", "observedGeneration": 1, "lastTransitionTime": "2026-11-29T10:00:00Z", "message": "Revision 3 is serving: 3/3 replicas ready."}],
          "stable": {"revision": "3", "modelDigest": "sha256:4c1a2f9e8d7b4c1a2f9e8d7b4c1a2f9e8d7b4c1a2f9e8d7b4c1a2f9e8d7b4c1a", "shortDigest": "4c1a2f9e8d7b", "replicas": 3, "readyReplicas": 3, "updatedReplicas": 3, "unschedulableReplicas": 0},
          "canary": {"revision": "4", "modelDigest": "sha256:9f8e7d6c5b4a9f8e7d6c5b4a9f8e7d6c5b4a9f8e7d6c5b4a9f8e7d6c5b4a9f8e", "step": 1, "weight": 10, "startedAt": "2026-11-29T10:00:00Z",
            "analysis": {"runs": 3, "consecutiveFailures": 0, "consecutiveInconclusive": 0,
              "lastRun": {"time": "2026-11-29T10:01:30Z", "verdict": "Passed", "reason": "Passed: all 4 checks passed",
                "metrics": [{"name": "latencyP95", "value": "0.081", "threshold": "0.2", "stableValue": "0.079", "pValue": "0.4124", "verdict": "Passed", "reason": "0.081 is within the SLO 0.2"}]}}},
          "servedModels": {"verified": 3, "mismatched": 0, "lastCheck": "2026-11-29T10:02:00Z"},
          "autoscaling": {"desiredReplicas": 3, "currentReplicas": 2, "recommendedReplicas": 3, "metric": "inFlightRequests", "currentValue": "5.6", "target": "4", "pods": 2, "reason": "ScaledUp", "lastScaleTime": "2026-11-29T10:01:45Z", "message": "inFlightRequests 5.6 per pod against a target of 4: 2 → 3."},
          "history": [{"revision": "2", "modelDigest": "sha256:7a6b5c4d3e2f7a6b5c4d3e2f", "outcome": "RolledBack", "reason": "AnalysisFailed", "finishedAt": "2026-11-28T10:05:00Z"}]}}
        """;

    public const string Models = """
        apiVersion: v1
        kind: Namespace
        metadata: {name: ml}
        ---
        apiVersion: serving.gru.dev/v1alpha1
        kind: GruModel
        metadata: {name: session-recs, namespace: ml}
        spec:
          model: {name: session-recs, source: "file:///opt/gru/models/sample-gru.onnx", sha256: f13c3245ec003e0ed76a2214e6ff89d0e545b45dd58ec22424ee5e1e2febbe52}
          serving: {replicas: 3, autoscaling: {minReplicas: 2, maxReplicas: 8, target: {metric: inFlightRequests, averageValue: "4"}}}
        ---
        apiVersion: serving.gru.dev/v1alpha1
        kind: GruModel
        metadata: {name: sample-gru, namespace: default}
        spec:
          model: {name: sample-gru, source: "file:///opt/gru/models/sample-gru.onnx", sha256: f13c3245ec003e0ed76a2214e6ff89d0e545b45dd58ec22424ee5e1e2febbe52}
        """;

    internal LocalClusterWithKubectl Cluster { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        using var deadline = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        var ct = deadline.Token;
        Cluster = await LocalClusterWithKubectl.StartAsync(ct);
        await Cluster.KubectlOkAsync(["apply", "-f", Path.Combine(Repository.Root, "config", "crds", "serving.gru.dev_grumodels.yaml")], ct);
        await Cluster.KubectlOkAsync(["wait", "--for=condition=Established", "crd/grumodels.serving.gru.dev", "--timeout=60s"], ct);
        await Cluster.KubectlOkAsync(["apply", "-f", "-"], ct, Models);
        await Cluster.KubectlOkAsync(["patch", "grumodel", "session-recs", "-n", "ml", "--subresource=status", "--type=merge", "-p", CanaryStatus], ct);
        await Cluster.KubectlOkAsync(["config", "set-context", "ml", "--cluster=local-cluster", "--user=local-cluster-admin", "--namespace=ml"], ct);
    }

    /// <summary>Runs `kubectl gru ARGS` (the built kubectl-gru.dll) with the cluster's KUBECONFIG.</summary>
    internal Task<ToolRun> GruAsync(params string[] arguments) =>
        ExternalTool.Dotnet.RunAsync([BuildOutput.Locate("src/KubectlGru", "kubectl-gru.dll"), .. arguments], environment: Cluster.Environment,
            cancellationToken: new CancellationTokenSource(TimeSpan.FromMinutes(1)).Token);

    /// <summary>Starts a long-running `kubectl gru ARGS` (status -w); the caller reads <paramref name="output"/> and kills it.</summary>
    internal Process StartGru(StringBuilder output, params string[] arguments)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(BuildOutput.Locate("src/KubectlGru", "kubectl-gru.dll"));
        foreach (var argument in arguments) start.ArgumentList.Add(argument);
        foreach (var (name, value) in Cluster.Environment) start.Environment[name] = value;
        var process = Process.Start(start)!;
        process.OutputDataReceived += (_, e) => { lock (output) output.AppendLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { lock (output) output.AppendLine(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    public async Task DisposeAsync() => await Cluster.DisposeAsync();
}
