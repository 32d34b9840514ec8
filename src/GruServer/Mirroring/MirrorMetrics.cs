using System.Diagnostics;
using System.Diagnostics.Metrics;
using GruServer.Inference;
using GruServing.Contract.Serving;

namespace GruServer.Mirroring;

/// <summary>The stable side's shadow-traffic metrics (<see cref="ShadowTraffic"/> names them for the operator's queries).</summary>
internal sealed class MirrorMetrics
{
    private readonly Histogram<double> _absDiff;
    private readonly Histogram<double> _relDiff;
    private readonly Counter<long> _compared;
    private readonly Counter<long> _argMaxCompared;
    private readonly Counter<long> _argMaxAgreed;
    private readonly Counter<long> _dropped;
    private readonly Counter<long> _errors;
    private readonly KeyValuePair<string, object?>[] _common;

    public MirrorMetrics(IMeterFactory meterFactory, ServedModel model)
    {
        ArgumentNullException.ThrowIfNull(meterFactory);
        ArgumentNullException.ThrowIfNull(model);
        _common = [new("model", model.Name), new("revision", model.Revision), new("track", model.Track)];
        var meter = meterFactory.Create(Telemetry.GruServerMetrics.MeterName);
        var buckets = new InstrumentAdvice<double> { HistogramBucketBoundaries = DivergenceBuckets.Bounds };
        _absDiff = meter.CreateHistogram<double>(ShadowTraffic.AbsDiffMetric, description: "Per mirrored request and output: largest |canary - stable| over its elements.", advice: buckets);
        _relDiff = meter.CreateHistogram<double>(ShadowTraffic.RelDiffMetric, description: "Per mirrored request and output: largest |canary - stable| / max(|canary|, |stable|), 0..2.", advice: buckets);
        // The exporter appends _total to counters; the contract's names carry it, the instruments must not.
        _compared = meter.CreateCounter<long>(Instrument(ShadowTraffic.ComparedMetric), description: "Mirrored requests whose outputs were compared with the canary's, per output.");
        _argMaxCompared = meter.CreateCounter<long>(Instrument(ShadowTraffic.ArgMaxComparedMetric), description: "Compared requests of a classification-shaped output ([batch, classes]).");
        _argMaxAgreed = meter.CreateCounter<long>(Instrument(ShadowTraffic.ArgMaxAgreedMetric), description: "Compared requests whose arg-max agreed with the canary's on every row.");
        _dropped = meter.CreateCounter<long>(Instrument(ShadowTraffic.DroppedMetric), description: "Sampled requests not copied to the canary, by reason.");
        _errors = meter.CreateCounter<long>(Instrument(ShadowTraffic.ErrorsMetric), description: "Copied requests whose answer could not be compared, by reason.");
        foreach (var reason in ShadowTraffic.DropReasons)
        {
            _dropped.Add(0, With("reason", reason));
        }

        foreach (var reason in ShadowTraffic.ErrorReasons)
        {
            _errors.Add(0, With("reason", reason));
        }
    }

    public void RecordDrop(string reason) => _dropped.Add(1, With("reason", reason));

    public void RecordError(string reason) => _errors.Add(1, With("reason", reason));

    public void RecordComparison(OutputDifference difference)
    {
        ArgumentNullException.ThrowIfNull(difference);
        var tags = With("output", difference.Output);
        _absDiff.Record(difference.MaxAbs, tags);
        _relDiff.Record(difference.MaxRel, tags);
        _compared.Add(1, tags);
        if (difference.ArgMaxAgrees is { } agrees)
        {
            _argMaxCompared.Add(1, tags);
            _argMaxAgreed.Add(agrees ? 1 : 0, tags);
        }
    }

    private static string Instrument(string counterName) => counterName[..^"_total".Length];

    private TagList With(string key, object? value)
    {
        var tags = new TagList(_common);
        tags.Add(key, value);
        return tags;
    }
}
