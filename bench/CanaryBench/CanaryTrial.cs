using System.Diagnostics;
using System.Net;
using GruOperator.Api;
using GruOperator.Domain.Conditions;
using k8s;
using k8s.Autorest;
using k8s.Models;
using GruServing.Contract.Serving;
using TestSupport;

namespace CanaryBench;

/// <summary>The analysis settings every trial shares (short, so the bench fits in minutes).</summary>
public sealed record TrialSettings(TimeSpan Interval, int FailureLimit, int InconclusiveLimit)
{
    public string IntervalText => $"{(int)Interval.TotalSeconds}s";
}

/// <summary>What one canary did: how it ended, why, and the times the bench measured.</summary>
public sealed record TrialResult(
    string Scenario, double IntervalSeconds, string GruModel, string Behaviour, string Outcome, string? Reason, string? Message, int AnalysisRuns,
    double CanarySeconds, double? BreachAtSeconds, double? BreachToRollbackSeconds);

/// <summary>
/// One canary on a fresh GruModel: created with revision 1 stable, then spec.model.sha256 changed, as a release would.
/// Traffic reaches the canary's GruServer from the moment the change is written (the canary's pods are ready at once on
/// LocalCluster); for a breach the traffic moves, part-way, from a healthy canary server to a slow one with the same
/// labels, so Prometheus sees the canary start breaching its SLO at a known instant.
/// </summary>
public sealed class CanaryTrial(IKubernetes client, string @namespace, TrialSettings settings)
{
    private const string StableSha = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    private const string CanarySha = "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210";
    private static readonly TimeSpan Poll = TimeSpan.FromMilliseconds(200);

    /// <summary>Runs a canary through <paramref name="weights"/> (each step held one interval) on <paramref name="slot"/>'s
    /// <paramref name="behaviour"/> server; with <paramref name="breachAfter"/>, traffic moves to <paramref name="breachBehaviour"/> then.</summary>
    public async Task<TrialResult> RunAsync(
        string scenario, string name, BenchFleet fleet, BenchSlot slot, string behaviour, int[] weights, int seed,
        TimeSpan? breachAfter = null, string? breachBehaviour = null, CancellationToken cancellationToken = default)
    {
        await CreateAsync(name, slot.Model, weights, cancellationToken);
        await WaitAsync(name, m => m.Status?.Phase == ModelPhase.Healthy, TimeSpan.FromMinutes(2), "stable Healthy", cancellationToken);

        var maxDuration = TimeSpan.FromMinutes(10);
        InferenceLoad? load = BenchFleet.Load(slot, slot.Canaries[behaviour], fleet.Requests, maxDuration, seed);
        var clock = Stopwatch.StartNew();
        InferenceLoad? breachLoad = null;
        TimeSpan? breachAt = null;
        try
        {
            await PatchAsync(name, new { spec = new { model = new { sha256 = CanarySha } } }, cancellationToken);
            var deadline = TimeSpan.FromSeconds(settings.Interval.TotalSeconds * (weights.Length + 2) * 4 + 60);
            GruModel? done = null;
            while (done is null)
            {
                if (breachAfter is { } after && breachAt is null && clock.Elapsed >= after)
                {
                    // The slow server starts taking the canary's traffic before the healthy one stops: no gap in the canary's series.
                    breachLoad = BenchFleet.Load(slot, slot.Canaries[breachBehaviour!], fleet.Requests, maxDuration, seed + 500);
                    breachAt = clock.Elapsed;
                    if (load is not null) await load.DisposeAsync();
                    load = null;
                }

                var model = await GetAsync(name, cancellationToken);
                if (model?.Status is { } status && status.Canary is null && status.History is [var last, ..] && last.Outcome is "Promoted" or "RolledBack" or "Aborted"
                    && status.Phase is ModelPhase.Healthy or ModelPhase.RolledBack)
                {
                    // Rolled back is complete when the canary Deployment is gone (its pods deleted), promoted when the canary is.
                    if (await DeploymentAsync(name + "-canary", cancellationToken) is null) done = model;
                }
                if (done is null)
                {
                    if (clock.Elapsed > deadline)
                    {
                        return new TrialResult(scenario, settings.Interval.TotalSeconds, name, behaviour, model?.Status?.Phase?.ToString() ?? "none", "bench timeout",
                            $"no outcome after {deadline.TotalSeconds:0} s: {model?.Status?.Message}", model?.Status?.Canary?.Analysis?.Runs ?? 0, clock.Elapsed.TotalSeconds, breachAt?.TotalSeconds, null);
                    }
                    await Task.Delay(Poll, cancellationToken);
                }
            }

            var ended = clock.Elapsed;
            var entry = done.Status!.History![0];
            var runs = await RunsAsync(name, cancellationToken);
            return new TrialResult(scenario, settings.Interval.TotalSeconds, name, behaviour, entry.Outcome!, entry.Reason, entry.Message, runs, ended.TotalSeconds,
                breachAt?.TotalSeconds, breachAt is { } start && entry.Outcome == "RolledBack" ? (ended - start).TotalSeconds : null);
        }
        finally
        {
            if (load is not null) await load.DisposeAsync();
            if (breachLoad is not null) await breachLoad.DisposeAsync();
            await DeleteAsync(name, cancellationToken);
        }
    }

    private async Task CreateAsync(string name, string model, int[] weights, CancellationToken cancellationToken)
    {
        var pause = settings.IntervalText;
        var gru = new GruModel
        {
            Metadata = new V1ObjectMeta { Name = name, NamespaceProperty = @namespace },
            Spec = new GruModelSpec
            {
                Model = new ModelSpec { Name = model, Source = "file:///opt/gru/models/bench.onnx", Sha256 = StableSha },
                Serving = new ServingSpec { Replicas = 2, ExecutionProvider = ExecutionProvider.CPU },
                Slo = new SloSpec { LatencyP95 = "100ms", ErrorRate = "0.01", MinRequests = 50 },
                Rollout = new RolloutSpec
                {
                    Canary = new CanarySpec
                    {
                        Steps = [.. weights.Select(w => new CanaryStep { SetWeight = w, Pause = pause })],
                        Analysis = new AnalysisSpec
                        {
                            Interval = pause, FailureLimit = settings.FailureLimit, InconclusiveLimit = settings.InconclusiveLimit,
                            OnInconclusive = InconclusiveAction.Pause, CompareToStable = true,
                        },
                    },
                },
            },
        };
        await client.CustomObjects.CreateNamespacedCustomObjectAsync(gru, GruModel.Group, GruModel.Version, @namespace, GruModel.Plural, cancellationToken: cancellationToken);
    }

    /// <summary>Analysis runs recorded for the model, from its Events (the status drops the counters with the canary).</summary>
    private async Task<int> RunsAsync(string name, CancellationToken cancellationToken)
    {
        var events = await client.CoreV1.ListNamespacedEventAsync(@namespace, cancellationToken: cancellationToken);
        return events.Items.Where(e => e.InvolvedObject?.Name == name && e.Reason is "AnalysisRunPassed" or "AnalysisRunFailed" or "AnalysisRunInconclusive" or "AnalysisSharedIncident")
            .Sum(e => e.Count ?? 1);
    }

    private async Task WaitAsync(string name, Func<GruModel, bool> done, TimeSpan timeout, string what, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            var model = await GetAsync(name, cancellationToken);
            if (model is not null && done(model)) return;
            if (clock.Elapsed > timeout) throw new TimeoutException($"{name}: not {what} within {timeout}: {model?.Status?.Message}");
            await Task.Delay(Poll, cancellationToken);
        }
    }

    private Task PatchAsync(string name, object patch, CancellationToken cancellationToken) =>
        client.CustomObjects.PatchNamespacedCustomObjectAsync<GruModel>(new V1Patch(KubernetesJson.Serialize(patch), V1Patch.PatchType.MergePatch),
            GruModel.Group, GruModel.Version, @namespace, GruModel.Plural, name, cancellationToken: cancellationToken);

    private async Task<GruModel?> GetAsync(string name, CancellationToken cancellationToken)
    {
        try
        {
            return await client.CustomObjects.GetNamespacedCustomObjectAsync<GruModel>(GruModel.Group, GruModel.Version, @namespace, GruModel.Plural, name, cancellationToken: cancellationToken);
        }
        catch (HttpOperationException ex) when (ex.Response.StatusCode == HttpStatusCode.NotFound)
        {
            return null;
        }
    }

    private async Task<V1Deployment?> DeploymentAsync(string name, CancellationToken cancellationToken)
    {
        try
        {
            return await client.AppsV1.ReadNamespacedDeploymentAsync(name, @namespace, cancellationToken: cancellationToken);
        }
        catch (HttpOperationException ex) when (ex.Response.StatusCode == HttpStatusCode.NotFound)
        {
            return null;
        }
    }

    private async Task DeleteAsync(string name, CancellationToken cancellationToken)
    {
        try
        {
            await client.CustomObjects.DeleteNamespacedCustomObjectAsync(GruModel.Group, GruModel.Version, @namespace, GruModel.Plural, name, cancellationToken: cancellationToken);
        }
        catch (HttpOperationException ex) when (ex.Response.StatusCode == HttpStatusCode.NotFound)
        {
        }
    }
}
