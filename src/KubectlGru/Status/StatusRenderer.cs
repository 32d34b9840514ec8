using System.Globalization;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace KubectlGru.Status;

/// <summary>Renders GruModels for a terminal or a pipe (Spectre.Console tables; markup always escaped).</summary>
internal static class StatusRenderer
{
    /// <summary>`kubectl gru list`: the columns of `kubectl get gru`, plus the canary's step and the last verdict.</summary>
    public static Table List(IReadOnlyList<GruModelView> models, DateTimeOffset now, bool showNamespace)
    {
        var table = new Table().Border(TableBorder.Simple);
        if (showNamespace) table.AddColumn("NAMESPACE");
        foreach (var column in new[] { "NAME", "PHASE", "STABLE", "CANARY", "STEP", "LAST VERDICT", "READY", "AGE" }) table.AddColumn(column);
        foreach (var m in models)
        {
            var cells = new List<string>();
            if (showNamespace) cells.Add(m.Namespace);
            cells.AddRange(
            [
                m.Name, m.Phase ?? "-", m.Stable?.ShortDigest ?? "-", m.Canary is { } c ? Weight(c) : "-", m.Canary?.Step.ToString(CultureInfo.InvariantCulture) ?? "-",
                m.Canary?.LastVerdict ?? "-", m.Ready ?? "-", m.Created is { } created ? Age(now - created) : "-",
            ]);
            table.AddRow(cells.Select(Markup.Escape).ToArray());
        }

        return table;
    }

    /// <summary>`kubectl gru status NAME`: phase, stable and canary, the last analysis with its numbers, verification, history.</summary>
    public static IRenderable Status(GruModelView m)
    {
        var rows = new List<IRenderable>();
        var lag = m.ObservedGeneration is { } observed && observed < m.Generation ? $" (operator has not seen generation {m.Generation} yet: status is for {observed})" : "";
        rows.Add(new Markup($"[bold]{Markup.Escape(m.Namespace)}/{Markup.Escape(m.Name)}[/]  phase [bold]{Markup.Escape(m.Phase ?? "unknown")}[/]{Markup.Escape(lag)}"));
        if (m.Message is { Length: > 0 }) rows.Add(new Text(m.Message));
        if (m.PendingAction is { } action) rows.Add(new Text($"requested action: {action} (waiting for the operator)"));
        if (m.RunningReplicas is { } running)
        {
            rows.Add(new Text($"replicas: {running}/{m.DesiredReplicas} (pods in all tracks / spec.serving.replicas, which kubectl scale or an HPA set through /scale)"));
        }

        if (m.Stable is { } s)
        {
            rows.Add(new Text($"stable: revision {s.Revision ?? "-"}, model {s.ShortDigest ?? "-"}, {s.ReadyReplicas}/{s.Replicas} ready" +
                (s.UnschedulableReplicas > 0 ? $", {s.UnschedulableReplicas} unschedulable" : "")));
        }

        if (m.Autoscaling is { } a) rows.Add(new Text(Autoscaling(a)));

        if (m.Canary is { } c)
        {
            rows.Add(new Text($"canary: revision {c.Revision ?? "-"}, model {Short(c.ModelDigest)}, step {c.Step}, weight {Weight(c)}" +
                (c.StartedAt is { } started ? $", started {started}" : "")));
            rows.Add(new Text($"analysis: {c.Runs} runs, {c.ConsecutiveFailures} consecutive failed, {c.ConsecutiveInconclusive} consecutive inconclusive" +
                (c.LastVerdict is { } verdict ? $"; last run {c.LastRunTime ?? "-"}: {verdict}" + (c.LastReason is { } reason ? $" ({reason})" : "") : "")));
            if (c.Metrics.Count > 0)
            {
                var metrics = new Table().Border(TableBorder.Simple);
                foreach (var column in new[] { "METRIC", "VALUE", "THRESHOLD", "STABLE", "P-VALUE", "VERDICT", "REASON" }) metrics.AddColumn(column);
                foreach (var metric in c.Metrics)
                {
                    metrics.AddRow(new[] { metric.Name, metric.Value ?? "-", metric.Threshold ?? "-", metric.StableValue ?? "-", metric.PValue ?? "-", metric.Verdict ?? "-", metric.Reason ?? "" }
                        .Select(Markup.Escape).ToArray());
                }

                rows.Add(metrics);
            }
        }
        else
        {
            rows.Add(new Text("canary: none"));
        }

        rows.Add(new Text(m.Verified is null && m.Mismatched is null
            ? "served models: not verified yet"
            : $"served models: {m.Verified ?? 0} verified, {m.Mismatched ?? 0} mismatched" + (m.LastCheck is { } check ? $" (checked {check})" : "")));
        if (m.Conditions.Count > 0)
        {
            var conditions = new Table().Border(TableBorder.Simple);
            foreach (var column in new[] { "CONDITION", "STATUS", "REASON", "MESSAGE" }) conditions.AddColumn(column);
            foreach (var condition in m.Conditions) conditions.AddRow(new[] { condition.Type, condition.Status, condition.Reason ?? "", condition.Message ?? "" }.Select(Markup.Escape).ToArray());
            rows.Add(conditions);
        }

        rows.Add(History(m));
        return new Rows(rows);
    }

    /// <summary>`kubectl gru history NAME`: the last rollouts, newest last as the operator records them.</summary>
    public static IRenderable History(GruModelView m)
    {
        if (m.History.Count == 0) return new Text("history: no finished rollouts");
        var table = new Table().Border(TableBorder.Simple).Title("history");
        foreach (var column in new[] { "REVISION", "MODEL", "OUTCOME", "REASON", "FINISHED" }) table.AddColumn(column);
        foreach (var h in m.History) table.AddRow(new[] { h.Revision ?? "-", Short(h.ModelDigest), h.Outcome ?? "-", h.Reason ?? "", h.FinishedAt ?? "-" }.Select(Markup.Escape).ToArray());
        return table;
    }

    /// <summary>One line: the count and its bounds, the load against the target, and the last reasoning.</summary>
    private static string Autoscaling(AutoscalingView a) =>
        $"autoscaling: {a.DesiredReplicas} replicas" + (a.MinReplicas is { } min && a.MaxReplicas is { } max ? $" (min {min}, max {max})" : "")
        + (a.CurrentValue is { } value ? $", {a.Metric} {value} per pod over {a.Pods} pods (target {a.Target})" : $", no {a.Metric} value (target {a.Target})")
        + (a.UnschedulableReplicas > 0 ? $", {a.UnschedulableReplicas} unschedulable" : "")
        + $"; {a.Reason ?? "-"}" + (a.LastScaleTime is { } scaled ? $", last scaled {scaled}" : "") + (a.Message is { Length: > 0 } message ? $": {message}" : "");

    private static string Weight(CanaryView c) => c.EffectiveWeight is { } effective && effective != c.Weight ? $"{c.Weight}% (effective {effective}%)" : $"{c.Weight}%";

    private static string Short(string? digest) => digest is null ? "-" : digest.StartsWith("sha256:", StringComparison.Ordinal) && digest.Length > 19 ? digest[7..19] : digest;

    private static string Age(TimeSpan age) => age.TotalDays >= 2 ? $"{(int)age.TotalDays}d" : age.TotalHours >= 2 ? $"{(int)age.TotalHours}h" : age.TotalMinutes >= 2 ? $"{(int)age.TotalMinutes}m" : $"{Math.Max(0, (int)age.TotalSeconds)}s";
}
