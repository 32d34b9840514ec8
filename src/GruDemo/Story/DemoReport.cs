using GruDemo.Publishing;

namespace GruDemo.Story;

/// <summary>What the demo did, for the summary and for the headless test's assertions.</summary>
public sealed record DemoReport(
    IReadOnlyList<PublishedModel> Published,
    ModelSnapshot AfterFirstDeploy,
    ModelSnapshot AfterPromotion,
    ModelSnapshot AfterRollback,
    IReadOnlyList<AnalysisRun> Runs,
    IReadOnlyList<PodTiming> Pods,
    IReadOnlyDictionary<string, TimeSpan> ChapterTimes,
    TimeSpan Total)
{
    /// <summary>The metrics whose verdict failed in the run that rolled v3 back (from its last recorded run).</summary>
    public IReadOnlyList<MetricVerdict> FailingMetrics =>
        Runs.LastOrDefault(r => r.Revision == AfterRollback.History.FirstOrDefault()?.Revision && r.Verdict == "Failed")?.Metrics.Where(m => m.Verdict == "Failed").ToList() ?? [];
}
