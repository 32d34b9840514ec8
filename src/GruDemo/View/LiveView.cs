using GruDemo.Story;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace GruDemo.View;

/// <summary>
/// The live view on a terminal (Spectre.Console): the rollout (phase, step, asked/effective weight), the tracks' pods and
/// traffic, every analysis verdict with its numbers, and what happened; then the summary.
/// </summary>
public sealed class LiveView(string kubeconfig, IReadOnlyList<string> parts) : IStoryView
{
    private readonly object _gate = new();
    private readonly List<string> _notes = [];
    private readonly List<AnalysisRun> _runs = [];
    private StoryState? _state;
    private DemoReport? _report;

    public void Chapter(string title) => Add($"[bold yellow]{Markup.Escape(title)}[/]");

    public void Note(string line) => Add(Markup.Escape(line));

    public void Run(AnalysisRun run)
    {
        lock (_gate) _runs.Add(run);
    }

    public void Update(StoryState state)
    {
        lock (_gate) _state = state;
    }

    public void Summary(DemoReport report)
    {
        lock (_gate) _report = report;
    }

    public async Task RunAsync(Func<Task> story)
    {
        ArgumentNullException.ThrowIfNull(story);
        await AnsiConsole.Live(Render()).AutoClear(false)
            // A short terminal keeps the top (the rollout) and loses the oldest lines at the bottom.
            .Overflow(VerticalOverflow.Ellipsis).Cropping(VerticalOverflowCropping.Bottom).StartAsync(async context =>
        {
            var running = story();
            while (!running.IsCompleted)
            {
                context.UpdateTarget(Render());
                await Task.WhenAny(running, Task.Delay(250));
            }

            context.UpdateTarget(Render());
            await running;
        });
        if (_report is { } report)
        {
            foreach (var line in PlainView.SummaryLines(report)) AnsiConsole.MarkupLine(line.StartsWith("==", StringComparison.Ordinal) ? $"[bold]{Markup.Escape(line)}[/]" : Markup.Escape(line));
        }
    }

    private void Add(string markup)
    {
        lock (_gate)
        {
            _notes.Add(markup);
            if (_notes.Count > 8) _notes.RemoveAt(0);
        }
    }

    private IRenderable Render()
    {
        lock (_gate)
        {
            var state = _state;
            var model = state?.Model;
            var header = new Markup(
                $"[bold]gru-operator demo[/] — {Markup.Escape(state?.Chapter ?? "starting")} — {state?.Elapsed.TotalSeconds ?? 0:0} s\n" +
                $"[grey]kubectl --kubeconfig {Markup.Escape(kubeconfig)} get gru -n gru-demo -w[/]\n[grey]{Markup.Escape(string.Join("  ·  ", parts))}[/]");

            var rollout = new Table().Border(TableBorder.Rounded).Title("rollout");
            rollout.AddColumns("phase", "stable", "canary", "step", "weight asked / effective", "traffic");
            if (model is not null)
            {
                var canary = model.Canary;
                rollout.AddRow(
                    PhaseMarkup(model.Phase),
                    Markup.Escape($"rev {model.StableRevision} {CanaryStory.Short(model.StableDigest)} {model.StableReadyReplicas}/{model.StableReplicas} ready"),
                    Markup.Escape(canary is null ? "-" : $"rev {canary.Revision} {CanaryStory.Short(canary.ModelDigest)}"),
                    canary is null ? "-" : $"{canary.Step + 1}",
                    canary is null ? "-" : $"{canary.Weight}% / {canary.EffectiveWeight}%",
                    Markup.Escape(canary?.Traffic ?? "-"));
            }

            var load = new Table().Border(TableBorder.Rounded).Title("load (30 req/s over ready pods)");
            load.AddColumns("track", "ready pods", "requests", "errors", "p50 ms", "p95 ms");
            foreach (var t in state?.Load ?? []) load.AddRow(t.Track, $"{t.ReadyPods}", $"{t.Requests}", $"{t.Errors}", $"{t.RecentP50Ms:0.0}", $"{t.RecentP95Ms:0.0}");

            var runs = new Table().Border(TableBorder.Rounded).Title("analysis runs");
            runs.AddColumns("rev", "step", "verdict", "metrics (value / threshold / stable / p)");
            foreach (var run in _runs.TakeLast(4))
            {
                runs.AddRow(run.Revision, $"{run.Step + 1}", VerdictMarkup(run.Verdict),
                    Markup.Escape(run.Metrics.Count == 0 ? run.Reason : string.Join("\n", run.Metrics.Select(PlainView.Describe))));
            }

            var pods = new Table().Border(TableBorder.Rounded).Title("pods");
            pods.AddColumns("pod", "track", "rev", "created → Ready", "memory");
            foreach (var p in (state?.Pods ?? []).TakeLast(6))
            {
                pods.AddRow(Markup.Escape(p.Name), p.Track, p.Revision, p.StartToReady is { } t ? $"{t.TotalSeconds:0.0} s" : "…", p.MaxResidentBytes > 0 ? $"{p.MaxResidentBytes / 1048576.0:0} MiB" : "-");
            }

            var notes = new Rows(_notes.Select(n => new Markup(n)));
            return new Rows(header, rollout, new Columns(load, pods), runs, new Panel(notes).Header("what happened"));
        }
    }

    private static string PhaseMarkup(string phase) => phase switch
    {
        "Healthy" => "[green]Healthy[/]",
        "RolledBack" => "[red]RolledBack[/]",
        "" => "-",
        _ => $"[yellow]{Markup.Escape(phase)}[/]",
    };

    private static string VerdictMarkup(string verdict) => verdict switch
    {
        "Passed" => "[green]Passed[/]",
        "Failed" => "[red]Failed[/]",
        _ => $"[yellow]{Markup.Escape(verdict)}[/]",
    };
}
