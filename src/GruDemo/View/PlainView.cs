using System.Globalization;
using GruDemo.Story;

namespace GruDemo.View;

/// <summary>The story as plain lines, one per change: what a CI log or a pipe gets, and what the headless test reads.</summary>
public sealed class PlainView(TextWriter output) : IStoryView
{
    private readonly object _gate = new();
    private string _last = "";
    private TimeSpan _elapsed;

    public void Chapter(string title) => Write($"== {title}");

    public void Note(string line) => Write(line);

    public void Run(AnalysisRun run)
    {
        ArgumentNullException.ThrowIfNull(run);
        Write($"analysis run (revision {run.Revision}, step {run.Step + 1}): {run.Verdict} — {run.Reason}");
        foreach (var m in run.Metrics) Write("    " + Describe(m));
    }

    public void Update(StoryState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        _elapsed = state.Elapsed;
        if (state.Model is not { } m) return;
        var canary = m.Canary is { } c ? $"; canary rev {c.Revision} step {c.Step + 1} weight asked {c.Weight}% / effective {c.EffectiveWeight}%{(c.Promotion is { Length: > 0 } p ? $" promotion {p}" : "")}" : "";
        var line = $"phase {m.Phase}; stable rev {m.StableRevision} {CanaryStory.Short(m.StableDigest)} ready {m.StableReadyReplicas}/{m.StableReplicas}{canary}";
        if (line == _last) return;
        _last = line;
        Write(line);
    }

    public void Summary(DemoReport report)
    {
        ArgumentNullException.ThrowIfNull(report);
        foreach (var line in SummaryLines(report)) Write(line);
    }

    public Task RunAsync(Func<Task> story)
    {
        ArgumentNullException.ThrowIfNull(story);
        return story();
    }

    /// <summary>The summary as lines (the live view prints the same after its table).</summary>
    public static IEnumerable<string> SummaryLines(DemoReport report)
    {
        ArgumentNullException.ThrowIfNull(report);
        yield return "== summary";
        foreach (var h in report.AfterRollback.History.Reverse()) yield return $"history: revision {h.Revision} {h.Outcome} ({h.Reason}) {CanaryStory.Short(h.ModelDigest)} {h.Message}";
        yield return $"stable serves {CanaryStory.Short(report.AfterRollback.StableDigest)} (v2 is {CanaryStory.Short(report.Published[1].Digest)}); v3 failed on: {string.Join(", ", report.FailingMetrics.Select(Describe))}";
        foreach (var (chapter, time) in report.ChapterTimes) yield return $"{chapter}: {time.TotalSeconds:0} s";
        var ready = report.Pods.Where(p => p.StartToReady is not null).Select(p => p.StartToReady!.Value.TotalSeconds).Order().ToList();
        if (ready.Count > 0) yield return $"pods: {ready.Count} started, created → Ready {ready[0]:0.0}–{ready[^1]:0.0} s (median {ready[ready.Count / 2]:0.0} s)";
        foreach (var track in report.Pods.Where(p => p.MaxResidentBytes > 0).GroupBy(p => p.Revision))
        {
            yield return $"memory, revision {track.Key}: {string.Join(", ", track.Select(p => $"{p.MaxResidentBytes / 1048576.0:0} MiB"))}";
        }

        yield return $"total: {report.Total.TotalSeconds:0} s";
    }

    /// <summary>One metric's verdict with its numbers.</summary>
    public static string Describe(MetricVerdict m)
    {
        ArgumentNullException.ThrowIfNull(m);
        return $"{m.Name} {m.Verdict}: value {m.Value ?? "-"}, threshold {m.Threshold ?? "-"}, stable {m.StableValue ?? "-"}, p {m.PValue ?? "-"}";
    }

    private void Write(string line)
    {
        lock (_gate) output.WriteLine($"[{_elapsed.TotalSeconds.ToString("000", CultureInfo.InvariantCulture)}s] {line}");
    }
}
