using System.Diagnostics;
using System.Text.Json.Nodes;
using GruDemo.Load;
using GruDemo.Publishing;
using GruDemo.Stack;
using k8s;
using k8s.Models;

namespace GruDemo.Story;

/// <summary>
/// The story `make demo` tells: v1 published and deployed; v2 published, the GruModel changed, the canary steps through
/// analysis on Prometheus and is promoted; v3 (a model thousands of times larger, so every request is really slower than the
/// SLO) canaries and is rolled back naming the failing metric. It waits on the GruModel's status with deadlines, never
/// on fixed sleeps, and shows everything it sees through an <see cref="IStoryView"/>.
/// </summary>
public sealed class CanaryStory(DemoStack stack, IStoryView view)
{
    /// <summary>The GruModel's name (and the model's name in inference URLs).</summary>
    public const string ModelName = "sequence-model";

    /// <summary>v1 and v2: small and fast (17 KB); v3: 1024 hidden units in 3 layers (60 MB), so each request costs far more.</summary>
    public static readonly ModelVersion V1 = new("v1", HiddenSize: 32, Layers: 1, Seed: 1);

    /// <inheritdoc cref="V1"/>
    public static readonly ModelVersion V2 = new("v2", HiddenSize: 32, Layers: 1, Seed: 2);

    /// <inheritdoc cref="V1"/>
    public static readonly ModelVersion V3 = new("v3", HiddenSize: 1024, Layers: 3, Seed: 3);

    /// <summary>p95 latency the canary must keep (v1/v2 answer in a few ms; v3 takes far longer).</summary>
    public const string LatencySlo = "50ms";

    private static readonly TimeSpan StepTimeout = TimeSpan.FromMinutes(5);
    private readonly List<AnalysisRun> _runs = [];
    private readonly Dictionary<string, PodTiming> _pods = new(StringComparer.Ordinal);
    private readonly Dictionary<string, TimeSpan> _chapters = new(StringComparer.Ordinal);
    private readonly Stopwatch _clock = new();
    private string _chapter = "starting";
    private ModelSnapshot? _latest;
    private ServiceLoad? _load;

    private string Ns => stack.Options.Namespace;

    /// <summary>Tells the whole story; returns what happened.</summary>
    public async Task<DemoReport> RunAsync(CancellationToken cancellationToken)
    {
        _clock.Start();
        using var watching = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var watcher = Task.Run(() => WatchAsync(watching.Token), CancellationToken.None);
        try
        {
            var publisher = new ModelPublisher(stack.Registry.Host, Path.Combine(stack.Options.WorkDirectory, "models"), Path.Combine(stack.Options.WorkDirectory, "gru-model.log"));
            var published = new List<PublishedModel>();

            Begin("v1: first deploy");
            var v1 = await PublishAsync(publisher, V1, cancellationToken);
            published.Add(v1);
            await stack.Client.CustomObjects.CreateNamespacedCustomObjectAsync(GruModel(v1.Source), "serving.gru.dev", "v1alpha1", Ns, "grumodels", cancellationToken: cancellationToken);
            view.Note($"applied GruModel {Ns}/{ModelName}: 2 replicas, 1 nvidia.com/gpu each, SLO p95 ≤ {LatencySlo}, canary steps 25% then 50%");
            var first = await UntilAsync(m => m.Phase == "Healthy" && m.StableDigest == v1.Digest && m.StableReadyReplicas == 2, "v1 to serve on 2 ready pods", cancellationToken);
            _load = ServiceLoad.Start(stack.Client, Ns, ModelName, ModelName, stack.Options.LoadWorkers, requestsPerSecond: 30);
            view.Note("load generator: 30 requests/s over the Service's ready pods (each pod equally likely, as kube-proxy spreads them)");
            End();

            Begin("v2: canary");
            var v2 = await PublishAsync(publisher, V2, cancellationToken);
            published.Add(v2);
            await ChangeModelAsync(v2, cancellationToken);
            var promoted = await UntilAsync(m => m.Phase == "Healthy" && m.Canary is null && m.StableDigest == v2.Digest && m.History.FirstOrDefault()?.Outcome == "Promoted",
                "v2 to be promoted", cancellationToken);
            view.Note($"v2 promoted: stable now serves {Short(v2.Digest)} (history: {promoted.History[0].Outcome}, {promoted.History[0].Reason})");
            End();

            Begin("v3: slow canary");
            var v3 = await PublishAsync(publisher, V3, cancellationToken);
            published.Add(v3);
            await ChangeModelAsync(v3, cancellationToken);
            var rolledBack = await UntilAsync(m => m.Phase == "RolledBack" && m.Canary is null && m.History.FirstOrDefault()?.Outcome == "RolledBack",
                "v3 to be rolled back", cancellationToken);
            view.Note($"v3 rolled back ({rolledBack.RolledBackReason}): {rolledBack.RolledBackMessage}");
            End();

            await watching.CancelAsync();
            await watcher.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            var report = new DemoReport(published, first, promoted, rolledBack, _runs.ToList(), _pods.Values.OrderBy(p => p.Created).ToList(),
                new Dictionary<string, TimeSpan>(_chapters), _clock.Elapsed);
            view.Summary(report);
            return report;
        }
        finally
        {
            await watching.CancelAsync();
            await watcher.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            if (_load is not null) await _load.DisposeAsync();
        }
    }

    /// <summary>The GruModel the demo applies: short steps and intervals so the whole story takes a few minutes.</summary>
    // The agent's node only: in a cluster with real nodes and kube-scheduler (DEMO_CLUSTER=current), these pods must
    // still run here, where the registry, Prometheus and the load generator reach 127.0.0.N.
    public JsonObject GruModel(string source) =>
        Manifest(Ns, source, new JsonObject { ["node.gru.dev/simulated"] = "true" });

    /// <summary>
    /// The story's GruModel in <paramref name="ns"/>: 2 replicas with one GPU each, SLO p95 ≤ <see cref="LatencySlo"/>,
    /// canary steps 25% then 50% held 10 s, analysis every 5 s; pods on nodes matching <paramref name="nodeSelector"/>.
    /// The real-node lane (tests/E2E.Tests) applies the same one.
    /// </summary>
    public static JsonObject Manifest(string ns, string source, JsonObject? nodeSelector = null)
    {
        var serving = new JsonObject
        {
            ["replicas"] = 2,
            ["gpu"] = new JsonObject { ["count"] = 1, ["resourceName"] = "nvidia.com/gpu" },
            ["resources"] = new JsonObject { ["requests"] = new JsonObject { ["cpu"] = "250m", ["memory"] = "256Mi" } },
        };
        if (nodeSelector is not null) serving["nodeSelector"] = nodeSelector;
        return new JsonObject
        {
            ["apiVersion"] = "serving.gru.dev/v1alpha1",
            ["kind"] = "GruModel",
            ["metadata"] = new JsonObject { ["name"] = ModelName, ["namespace"] = ns },
            ["spec"] = new JsonObject
            {
                ["model"] = new JsonObject { ["name"] = ModelName, ["source"] = source },
                ["serving"] = serving,
                ["slo"] = new JsonObject { ["latencyP95"] = LatencySlo, ["errorRate"] = "0.01", ["minRequests"] = 30 },
                ["rollout"] = new JsonObject
                {
                    ["strategy"] = "Canary",
                    ["canary"] = new JsonObject
                    {
                        ["steps"] = new JsonArray(
                            new JsonObject { ["setWeight"] = 25, ["pause"] = "10s" },
                            new JsonObject { ["setWeight"] = 50, ["pause"] = "10s" }),
                        ["analysis"] = new JsonObject { ["interval"] = "5s", ["failureLimit"] = 2, ["inconclusiveLimit"] = 4, ["onInconclusive"] = "Pause" },
                        ["surge"] = true,
                        ["progressDeadline"] = "3m",
                    },
                },
                ["integrity"] = new JsonObject { ["verifyInterval"] = "5s" },
            },
        };
    }

    private async Task<PublishedModel> PublishAsync(ModelPublisher publisher, ModelVersion version, CancellationToken cancellationToken)
    {
        var model = await publisher.PublishAsync(version, cancellationToken);
        view.Note($"gru-model push {version.Tag}: hidden {version.HiddenSize} × {version.Layers} layer(s), {model.Bytes / 1024.0:0} KiB → {model.Source} ({Short(model.Digest)})");
        return model;
    }

    private async Task ChangeModelAsync(PublishedModel model, CancellationToken cancellationToken)
    {
        var patch = new V1Patch(new JsonObject { ["spec"] = new JsonObject { ["model"] = new JsonObject { ["source"] = model.Source } } }.ToJsonString(), V1Patch.PatchType.MergePatch);
        await stack.Client.CustomObjects.PatchNamespacedCustomObjectAsync(patch, "serving.gru.dev", "v1alpha1", Ns, "grumodels", ModelName, cancellationToken: cancellationToken);
        view.Note($"spec.model.source → {model.Source}");
    }

    private async Task<ModelSnapshot> UntilAsync(Func<ModelSnapshot, bool> condition, string what, CancellationToken cancellationToken)
    {
        ModelSnapshot? seen = null;
        await Conditions.UntilAsync(async () =>
        {
            seen = await ReadAsync(cancellationToken);
            return condition(seen);
        }, StepTimeout, what, cancellationToken, () =>
            $"phase {seen?.Phase} ({seen?.Message}); operator {(stack.Operator.HasExited ? $"exited with {stack.Operator.ExitCode}" : "running")}; logs: {stack.OperatorLog}, {stack.StackLog}");
        return seen!;
    }

    private async Task<ModelSnapshot> ReadAsync(CancellationToken cancellationToken)
    {
        var raw = await stack.Client.CustomObjects.GetNamespacedCustomObjectAsync("serving.gru.dev", "v1alpha1", Ns, "grumodels", ModelName, cancellationToken: cancellationToken);
        return ModelSnapshot.From(JsonNode.Parse(KubernetesJson.Serialize(raw))!);
    }

    /// <summary>Every half second: the model's status, new analysis runs, the pods and their times, the load; all to the view.</summary>
    private async Task WatchAsync(CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                await ObservePodsAsync(cancellationToken);
                try
                {
                    _latest = await ReadAsync(cancellationToken);
                }
                catch (k8s.Autorest.HttpOperationException e) when (e.Response.StatusCode == System.Net.HttpStatusCode.NotFound)
                {
                }

                if (_latest?.Canary?.LastRun is { } run && !_runs.Any(r => r.Time == run.Time && r.Revision == run.Revision))
                {
                    _runs.Add(run);
                    view.Run(run);
                }

                view.Update(new StoryState(_chapter, _clock.Elapsed, _latest, _load?.Snapshot() ?? [], _pods.Values.OrderBy(p => p.Created).ToList()));
            }
            catch (Exception e) when (e is HttpRequestException or k8s.Autorest.HttpOperationException)
            {
                // the API server busy for a moment: the next round sees it
            }

            await Task.Delay(500, cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
    }

    private async Task ObservePodsAsync(CancellationToken cancellationToken)
    {
        var pods = await stack.Client.CoreV1.ListNamespacedPodAsync(Ns, labelSelector: "serving.gru.dev/model=" + ModelName, cancellationToken: cancellationToken);
        var memory = stack.Agent.PodMemory();
        var now = DateTimeOffset.UtcNow;
        foreach (var pod in pods.Items)
        {
            var name = pod.Metadata.Name;
            IReadOnlyDictionary<string, string> labels = pod.Metadata.Labels is { } l ? new Dictionary<string, string>(l) : new Dictionary<string, string>();
            if (!_pods.TryGetValue(name, out var seen))
            {
                seen = new PodTiming(name, labels.GetValueOrDefault("serving.gru.dev/track", "?"), labels.GetValueOrDefault("serving.gru.dev/revision", "?"), now, null, 0);
            }

            var ready = pod.Status?.Conditions?.Any(c => c is { Type: "Ready", Status: "True" }) == true;
            if (ready && seen.StartToReady is null) seen = seen with { StartToReady = now - seen.Created };
            if (memory.TryGetValue($"{Ns}/{name}", out var bytes) && bytes > seen.MaxResidentBytes) seen = seen with { MaxResidentBytes = bytes };
            _pods[name] = seen;
        }
    }

    private void Begin(string chapter)
    {
        _chapter = chapter;
        _chapters[chapter] = _clock.Elapsed;
        view.Chapter(chapter);
    }

    private void End() => _chapters[_chapter] = _clock.Elapsed - _chapters[_chapter];

    internal static string Short(string digest) => digest.Length > 19 ? digest[..19] : digest;
}
