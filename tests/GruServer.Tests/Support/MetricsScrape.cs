using System.Globalization;
using System.Text.RegularExpressions;

namespace GruServer.Tests.Support;

/// <summary>One sample of the Prometheus text format: metric name, labels, value.</summary>
public sealed record MetricSample(string Name, IReadOnlyDictionary<string, string> Labels, double Value);

/// <summary>A parsed scrape of /metrics, queried by name and a subset of labels.</summary>
public sealed partial class MetricsScrape
{
    private MetricsScrape(string text, IReadOnlyList<MetricSample> samples)
    {
        Text = text;
        Samples = samples;
    }

    public string Text { get; }

    public IReadOnlyList<MetricSample> Samples { get; }

    public static async Task<MetricsScrape> FetchAsync(HttpClient http, Uri metricsUrl)
    {
        var text = await http.GetStringAsync(metricsUrl);
        return Parse(text);
    }

    public static MetricsScrape Parse(string text)
    {
        var samples = new List<MetricSample>();
        foreach (var line in text.Split('\n'))
        {
            var match = SampleLine().Match(line.TrimEnd('\r'));
            if (!match.Success)
            {
                continue;
            }

            var labels = LabelPair().Matches(match.Groups["labels"].Value)
                .ToDictionary(m => m.Groups["key"].Value, m => m.Groups["value"].Value);
            var value = match.Groups["value"].Value switch
            {
                "+Inf" => double.PositiveInfinity,
                var v => double.Parse(v, CultureInfo.InvariantCulture),
            };
            samples.Add(new MetricSample(match.Groups["name"].Value, labels, value));
        }

        return new MetricsScrape(text, samples);
    }

    /// <summary>The samples named <paramref name="name"/> whose labels include every pair given.</summary>
    public IReadOnlyList<MetricSample> Find(string name, params (string Key, string Value)[] labels) =>
        [.. Samples.Where(s => s.Name == name && labels.All(l => s.Labels.TryGetValue(l.Key, out var v) && v == l.Value))];

    /// <summary>The value of the single matching sample, or 0 when the series does not exist.</summary>
    public double Value(string name, params (string Key, string Value)[] labels)
    {
        var found = Find(name, labels);
        return found.Count switch
        {
            0 => 0,
            1 => found[0].Value,
            _ => throw new InvalidOperationException($"{found.Count} series match {name} {string.Join(",", labels)}; narrow the labels."),
        };
    }

    [GeneratedRegex(@"^(?<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?<labels>.*)\})?\s+(?<value>\S+)(\s+\d+)?$")]
    private static partial Regex SampleLine();

    [GeneratedRegex("(?<key>[a-zA-Z_][a-zA-Z0-9_]*)=\"(?<value>(?:[^\"\\\\]|\\\\.)*)\"")]
    private static partial Regex LabelPair();
}
