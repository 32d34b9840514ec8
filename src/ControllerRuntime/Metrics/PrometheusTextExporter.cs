using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Globalization;
using System.Text;

namespace ControllerRuntime.Metrics;

/// <summary>
/// Renders the counters, histograms and observable gauges of chosen meters in the Prometheus text format, for a
/// /metrics endpoint served by the host's own web server (the OpenTelemetry HttpListener exporter is dev-only and
/// cannot bind every interface).
/// </summary>
public sealed class PrometheusTextExporter : IDisposable
{
    private static readonly double[] DefaultBuckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
    private readonly MeterListener _listener = new();
    private readonly ConcurrentDictionary<Instrument, Series> _series = new();
    private readonly Lock _observeLock = new();

    /// <summary>Starts listening to the meters named <paramref name="meterNames"/> that <paramref name="scope"/> created.</summary>
    /// <remarks>Filtering by the factory keeps two hosts in one process (tests) from reporting each other's series.</remarks>
    public PrometheusTextExporter(IMeterFactory scope, params string[] meterNames)
    {
        var names = new HashSet<string>(meterNames, StringComparer.Ordinal);
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (!names.Contains(instrument.Meter.Name) || !ReferenceEquals(instrument.Meter.Scope, scope)) return;
            _series[instrument] = new Series(instrument);
            listener.EnableMeasurementEvents(instrument);
        };
        _listener.SetMeasurementEventCallback<long>((i, v, tags, _) => Record(i, v, tags));
        _listener.SetMeasurementEventCallback<int>((i, v, tags, _) => Record(i, v, tags));
        _listener.SetMeasurementEventCallback<double>((i, v, tags, _) => Record(i, v, tags));
        _listener.Start();
    }

    /// <summary>The exposition, with observable instruments read now.</summary>
    public string Render()
    {
        lock (_observeLock)
        {
            foreach (var series in _series.Values.Where(s => s.Observable)) series.Clear();
            _listener.RecordObservableInstruments();
        }

        var text = new StringBuilder();
        foreach (var series in _series.Values.OrderBy(s => s.Name, StringComparer.Ordinal)) series.Write(text);
        return text.ToString();
    }

    /// <inheritdoc />
    public void Dispose() => _listener.Dispose();

    private void Record(Instrument instrument, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        if (_series.TryGetValue(instrument, out var series)) series.Record(value, tags);
    }

    private sealed class Series
    {
        private readonly Instrument _instrument;
        private readonly double[]? _buckets;
        private readonly ConcurrentDictionary<string, Point> _points = new(StringComparer.Ordinal);

        public Series(Instrument instrument)
        {
            _instrument = instrument;
            Observable = instrument.IsObservable;
            var baseName = instrument.Name.Replace('.', '_').Replace('-', '_');
            Name = instrument.Unit == "s" && !baseName.EndsWith("_seconds", StringComparison.Ordinal) ? baseName + "_seconds" : baseName;
            if (instrument is Histogram<double> histogram)
            {
                _buckets = histogram.Advice?.HistogramBucketBoundaries?.ToArray() ?? DefaultBuckets;
            }
        }

        public string Name { get; }

        public bool Observable { get; }

        public void Clear() => _points.Clear();

        public void Record(double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            var labels = Labels(tags);
            var point = _points.GetOrAdd(labels, _ => new Point(_buckets?.Length ?? 0));
            lock (point)
            {
                point.Count++;
                if (_buckets is null)
                {
                    // Counters add up; gauges (observable) keep the last value.
                    point.Sum = Observable ? value : point.Sum + value;
                    return;
                }
                point.Sum += value;
                for (var i = 0; i < _buckets.Length; i++)
                {
                    if (value <= _buckets[i]) point.Buckets[i]++;
                }
            }
        }

        public void Write(StringBuilder text)
        {
            var type = _buckets is not null ? "histogram" : Observable ? "gauge" : "counter";
            if (!string.IsNullOrEmpty(_instrument.Description)) text.Append("# HELP ").Append(Name).Append(' ').Append(_instrument.Description).Append('\n');
            text.Append("# TYPE ").Append(Name).Append(' ').Append(type).Append('\n');
            foreach (var (labels, point) in _points.OrderBy(p => p.Key, StringComparer.Ordinal))
            {
                lock (point)
                {
                    if (_buckets is null)
                    {
                        text.Append(Name).Append(Braces(labels)).Append(' ').Append(Format(point.Sum)).Append('\n');
                        continue;
                    }
                    for (var i = 0; i < _buckets.Length; i++)
                    {
                        text.Append(Name).Append("_bucket").Append(Braces(Join(labels, $"le=\"{Format(_buckets[i])}\""))).Append(' ').Append(point.Buckets[i]).Append('\n');
                    }
                    text.Append(Name).Append("_bucket").Append(Braces(Join(labels, "le=\"+Inf\""))).Append(' ').Append(point.Count).Append('\n');
                    text.Append(Name).Append("_sum").Append(Braces(labels)).Append(' ').Append(Format(point.Sum)).Append('\n');
                    text.Append(Name).Append("_count").Append(Braces(labels)).Append(' ').Append(point.Count).Append('\n');
                }
            }
        }

        private static string Labels(ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            var pairs = new List<string>(tags.Length);
            foreach (var (key, value) in tags)
            {
                var escaped = Convert.ToString(value, CultureInfo.InvariantCulture)?.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal);
                pairs.Add($"{key}=\"{escaped}\"");
            }
            pairs.Sort(StringComparer.Ordinal);
            return string.Join(',', pairs);
        }

        private static string Join(string labels, string extra) => labels.Length == 0 ? extra : labels + "," + extra;

        private static string Braces(string labels) => labels.Length == 0 ? "" : "{" + labels + "}";

        private static string Format(double value) => value.ToString("R", CultureInfo.InvariantCulture);
    }

    private sealed class Point(int buckets)
    {
        public long[] Buckets { get; } = new long[buckets];
        public long Count { get; set; }
        public double Sum { get; set; }
    }
}
