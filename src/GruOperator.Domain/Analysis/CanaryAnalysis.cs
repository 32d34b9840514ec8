using GruServing.Contract.Serving;
namespace GruOperator.Domain.Analysis;

/// <summary>
/// Everything one analysis run needs to know about the model under rollout. <paramref name="Window"/> is the
/// traffic not judged before: <c>AnalysisWindow.Between(runAnalysis.Since, runAnalysis.Until)</c>. <paramref name="Evidence"/>,
/// when set, is the longer window of the run's second look at its rate SLIs (from <c>runAnalysis.EvidenceSince</c>);
/// <paramref name="Step"/>, when set, the step so far, for the run's step look (from <c>runAnalysis.StepSince</c>); <paramref name="ClosesStep"/>
/// when the run may let the step pass (its step look then also tests all the step's requests once, exactly);
/// <paramref name="StableServes"/> is false when the canary takes all traffic (stable idle, its series may be gone).
/// </summary>
public sealed record AnalysisRequest(
    SloSpec Slo,
    CanaryAnalysisSpec Spec,
    string Namespace,
    string Model,
    string StableRevision,
    string CanaryRevision,
    AnalysisWindow Window,
    AnalysisWindow? Evidence = null,
    bool StableServes = true,
    AnalysisWindow? Step = null,
    bool ClosesStep = false);

/// <summary>
/// Runs one analysis: takes every planned measurement for canary and stable through the
/// <see cref="IMetricProvider"/> port (concurrently), then hands them to the pure <see cref="CanaryJudge"/>.
/// </summary>
public sealed class CanaryAnalysis(IMetricProvider provider, ComparisonPolicy policy)
{
    /// <summary>Measures and judges; never throws for backend trouble (that is an Inconclusive run).</summary>
    public async Task<AnalysisRun> RunAsync(AnalysisRequest request, CancellationToken cancellationToken)
    {
        var plan = CanaryJudge.Plan(request.Slo, request.Spec);
        var canary = new TrackSelector(request.Namespace, request.Model, Track.Canary, request.CanaryRevision);
        var stable = new TrackSelector(request.Namespace, request.Model, Track.Stable, request.StableRevision);

        // Divergence is what stable's pods measured of the canary: read from stable's series, judged as the canary's.
        var canaryTasks = plan.Select(p => MeasureAsync(p, p.Source is BuiltInDivergence ? stable : canary, request.Window, cancellationToken)).ToArray();
        var stableTasks = plan.Select(p => p.Source is BuiltInDivergence
            ? Task.FromResult(Measurement.Of((double?)null))
            : MeasureAsync(p, stable, request.Window, cancellationToken)).ToArray();
        var canaryResults = await Task.WhenAll(canaryTasks).ConfigureAwait(false);
        var stableResults = await Task.WhenAll(stableTasks).ConfigureAwait(false);

        // The second look: rate SLIs (sparse events) over everything since the evidence start, both tracks.
        var longer = request.Evidence is { } evidence && evidence.Start < request.Window.Start
            ? plan.Where(p => p.Source is BuiltInSli { Sli: Sli.ErrorRate or Sli.InputSchemaErrorRate }).ToArray()
            : [];
        var longerCanary = await Task.WhenAll(longer.Select(p => MeasureAsync(p, canary, request.Evidence!, cancellationToken))).ConfigureAwait(false);
        var longerStable = await Task.WhenAll(longer.Select(p => MeasureAsync(p, stable, request.Evidence!, cancellationToken))).ConfigureAwait(false);

        // The step look: every SLO SLI over the step so far, both tracks (anytime-valid tests in the judge).
        var whole = request.Step is { } step && step.Start < request.Window.Start
            ? plan.Where(p => p.Source is BuiltInSli { Sli: not Sli.RequestCount }).ToArray()
            : [];
        var stepCanary = await Task.WhenAll(whole.Select(p => MeasureAsync(p, canary, request.Step!, cancellationToken))).ConfigureAwait(false);
        var stepStable = await Task.WhenAll(whole.Select(p => MeasureAsync(p, stable, request.Step!, cancellationToken))).ConfigureAwait(false);

        var observation = new AnalysisObservation(
            plan.Select((p, i) => (p.Name, canaryResults[i])).ToDictionary(x => x.Name, x => x.Item2),
            plan.Select((p, i) => (p.Name, stableResults[i])).ToDictionary(x => x.Name, x => x.Item2))
        {
            Evidence = longer.Length == 0 ? null : new EvidenceObservation(request.Evidence!,
                longer.Select((p, i) => (p.Name, longerCanary[i])).ToDictionary(x => x.Name, x => x.Item2),
                longer.Select((p, i) => (p.Name, longerStable[i])).ToDictionary(x => x.Name, x => x.Item2)),
            Step = whole.Length == 0 ? null : new EvidenceObservation(request.Step!,
                whole.Select((p, i) => (p.Name, stepCanary[i])).ToDictionary(x => x.Name, x => x.Item2),
                whole.Select((p, i) => (p.Name, stepStable[i])).ToDictionary(x => x.Name, x => x.Item2)) { ClosesStep = request.ClosesStep },
            StableServes = request.StableServes,
        };
        return CanaryJudge.Judge(request.Slo, request.Spec, policy, request.Window.End, observation);
    }

    private async Task<Measurement> MeasureAsync(
        PlannedMetric planned, TrackSelector track, AnalysisWindow window, CancellationToken cancellationToken)
    {
        try
        {
            return await provider.MeasureAsync(
                new MetricQuery(planned.Name, planned.Source, track, window), cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            // A provider that breaks the "return data" contract still must not turn into a Passed run or a crash.
            return Measurement.Failed($"{ex.GetType().Name}: {ex.Message}");
        }
    }
}
