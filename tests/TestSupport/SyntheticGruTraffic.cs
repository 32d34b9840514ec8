using System.Globalization;
using System.Text;
using GruServing.Contract.Serving;

namespace TestSupport;

/// <summary>How one simulated track behaves; change it at run time to start a breach.</summary>
/// <param name="RequestsPerSecond">Simulated request rate.</param>
/// <param name="MedianLatency">Median latency in seconds (latencies are log-normal).</param>
/// <param name="LatencySpread">Sigma of log(latency): 0.3 is a realistic tail.</param>
/// <param name="ErrorRate">Fraction of requests answered 500.</param>
public sealed record TrackBehavior(double RequestsPerSecond, double MedianLatency, double LatencySpread, double ErrorRate);

/// <summary>
/// Simulates GruServer's request metrics (<c>gru_requests_total</c>, <c>gru_request_duration_seconds</c>) for any
/// number of (model, track, revision) series, in the text exposition format, so a real Prometheus can scrape
/// controlled, noisy traffic. Requests are generated lazily for the time elapsed since the last render, from a
/// seeded random source, so a run is reproducible up to scrape timing.
/// </summary>
public sealed class SyntheticGruTraffic(int seed, TimeProvider time)
{
    /// <summary>GruServer's own bucket bounds (its standard layout), so the analysis reads the buckets it meets in production.</summary>
    public static readonly double[] Buckets = [.. LatencyBuckets.Standard];

    private readonly Random _random = new(seed);
    private readonly Lock _gate = new();
    private readonly List<SimulatedTrack> _tracks = [];

    /// <summary>Adds a simulated series set and returns a handle to change its behaviour.</summary>
    public SimulatedTrack Add(string model, string track, string revision, TrackBehavior behavior)
    {
        lock (_gate)
        {
            var simulated = new SimulatedTrack(model, track, revision, behavior, time.GetUtcNow());
            _tracks.Add(simulated);
            return simulated;
        }
    }

    /// <summary>Switches a track to a new behaviour from exactly now: traffic up to now keeps the old one.</summary>
    public void Change(SimulatedTrack track, TrackBehavior behavior)
    {
        lock (_gate)
        {
            track.Advance(time.GetUtcNow(), _random);
            track.Behavior = behavior;
        }
    }

    /// <summary>Advances every track to now and renders the exposition text.</summary>
    public string Render()
    {
        lock (_gate)
        {
            var now = time.GetUtcNow();
            foreach (var track in _tracks)
            {
                track.Advance(now, _random);
            }

            var text = new StringBuilder();
            text.Append("# TYPE gru_requests_total counter\n");
            foreach (var t in _tracks)
            {
                text.Append(CultureInfo.InvariantCulture, $"gru_requests_total{{{t.Labels},code=\"200\"}} {t.Ok}\n");
                text.Append(CultureInfo.InvariantCulture, $"gru_requests_total{{{t.Labels},code=\"500\"}} {t.Errors}\n");
            }

            text.Append("# TYPE gru_request_duration_seconds histogram\n");
            foreach (var t in _tracks)
            {
                long cumulative = 0;
                for (var i = 0; i < Buckets.Length; i++)
                {
                    cumulative += t.BucketCounts[i];
                    text.Append(CultureInfo.InvariantCulture, $"gru_request_duration_seconds_bucket{{{t.Labels},le=\"{Buckets[i]}\"}} {cumulative}\n");
                }

                var count = t.Ok + t.Errors;
                text.Append(CultureInfo.InvariantCulture, $"gru_request_duration_seconds_bucket{{{t.Labels},le=\"+Inf\"}} {count}\n");
                text.Append(CultureInfo.InvariantCulture, $"gru_request_duration_seconds_sum{{{t.Labels}}} {t.LatencySum}\n");
                text.Append(CultureInfo.InvariantCulture, $"gru_request_duration_seconds_count{{{t.Labels}}} {count}\n");
            }

            return text.ToString();
        }
    }
}

/// <summary>One simulated (model, track, revision); <see cref="Behavior"/> may be swapped at any time.</summary>
public sealed class SimulatedTrack
{
    private DateTimeOffset _last;
    private double _carry;

    internal SimulatedTrack(string model, string track, string revision, TrackBehavior behavior, DateTimeOffset start)
    {
        Labels = $"model=\"{model}\",track=\"{track}\",revision=\"{revision}\"";
        Behavior = behavior;
        _last = start;
    }

    /// <summary>The behaviour from now on.</summary>
    public TrackBehavior Behavior { get; set; }

    internal string Labels { get; }

    internal long Ok { get; private set; }

    internal long Errors { get; private set; }

    internal double LatencySum { get; private set; }

    internal long[] BucketCounts { get; } = new long[SyntheticGruTraffic.Buckets.Length + 1];

    internal void Advance(DateTimeOffset now, Random random)
    {
        var behavior = Behavior;
        _carry += Math.Max(0, (now - _last).TotalSeconds) * behavior.RequestsPerSecond;
        _last = now;
        var requests = (long)_carry;
        _carry -= requests;
        for (long r = 0; r < requests; r++)
        {
            // Box-Muller for a standard normal, then log-normal latency around the median.
            var z = Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
            var latency = behavior.MedianLatency * Math.Exp(behavior.LatencySpread * z);
            LatencySum += latency;
            var bucket = Array.FindIndex(SyntheticGruTraffic.Buckets, b => latency <= b);
            BucketCounts[bucket < 0 ? SyntheticGruTraffic.Buckets.Length : bucket]++;
            if (random.NextDouble() < behavior.ErrorRate)
            {
                Errors++;
            }
            else
            {
                Ok++;
            }
        }
    }
}
