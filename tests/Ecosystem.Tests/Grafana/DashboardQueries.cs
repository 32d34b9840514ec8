using System.Text.Json;
using System.Text.RegularExpressions;
using TestSupport;

namespace Ecosystem.Tests.Grafana;

/// <summary>One PromQL expression of the dashboard: a panel target or a template variable's query.</summary>
internal sealed record DashboardQuery(string Where, string Expression);

/// <summary>
/// Reads config/grafana/gru-model.json: every panel target (rows included) and every template variable query, with
/// Grafana's variables replaced the way Grafana would for one model.
/// </summary>
internal static partial class DashboardQueries
{
    public static string Path => System.IO.Path.Combine(Repository.Root, "config", "grafana", "gru-model.json");

    public static IReadOnlyList<DashboardQuery> Read(string ns, string model, string rateInterval)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Path));
        var queries = new List<DashboardQuery>();
        foreach (var variable in doc.RootElement.GetProperty("templating").GetProperty("list").EnumerateArray())
        {
            if (variable.GetProperty("type").GetString() != "query") continue;
            var query = variable.GetProperty("query").GetProperty("query").GetString()!;
            // label_values(selector, label) is Grafana's; the PromQL underneath is the selector.
            var match = LabelValues().Match(query);
            Assert.True(match.Success, $"variable {variable.GetProperty("name")} is not label_values(selector, label): {query}");
            queries.Add(new($"variable {variable.GetProperty("name")} (label {match.Groups[2].Value})", Substitute(match.Groups[1].Value, ns, model, rateInterval)));
        }

        foreach (var panel in Panels(doc.RootElement.GetProperty("panels")))
        {
            if (!panel.TryGetProperty("targets", out var targets)) continue;
            foreach (var target in targets.EnumerateArray())
            {
                queries.Add(new(
                    $"panel \"{panel.GetProperty("title").GetString()}\" target {target.GetProperty("refId").GetString()}",
                    Substitute(target.GetProperty("expr").GetString()!, ns, model, rateInterval)));
            }
        }

        return queries;
    }

    /// <summary>Metric names an expression reads (identifiers followed by a selector, range or call parenthesis).</summary>
    public static IReadOnlySet<string> Metrics(string expression) =>
        MetricName().Matches(expression).Select(m => m.Groups[1].Value).ToHashSet();

    private static IEnumerable<JsonElement> Panels(JsonElement panels)
    {
        foreach (var panel in panels.EnumerateArray())
        {
            yield return panel;
            if (panel.TryGetProperty("panels", out var nested))
            {
                foreach (var inner in Panels(nested)) yield return inner;
            }
        }
    }

    private static string Substitute(string expression, string ns, string model, string rateInterval)
    {
        var result = expression.Replace("$namespace", ns, StringComparison.Ordinal).Replace("$model", model, StringComparison.Ordinal)
            .Replace("$__rate_interval", rateInterval, StringComparison.Ordinal);
        Assert.DoesNotContain("$", result, StringComparison.Ordinal);
        return result;
    }

    [GeneratedRegex(@"^label_values\((.+),\s*(\w+)\)$")]
    private static partial Regex LabelValues();

    [GeneratedRegex(@"\b((?:gru|controller)_[a-z0-9_]+|up)\s*[{\[]")]
    private static partial Regex MetricName();
}
