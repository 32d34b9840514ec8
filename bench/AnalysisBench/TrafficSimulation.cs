using GruOperator.Domain.Analysis;
using GruServing.Contract.Serving;

namespace AnalysisBench;

/// <summary>How one track behaves: log-normal latency with this true p95 and spread, a fraction answered 5xx.</summary>
/// <param name="P95">True 95th percentile latency in seconds (of a pod at nominal speed).</param>
/// <param name="Sigma">Log-normal spread (σ of ln latency).</param>
/// <param name="ErrorRate">Fraction of requests answered 5xx.</param>
public sealed record TrackBehavior(double P95, double Sigma, double ErrorRate)
{
    /// <summary>Median latency of a pod at nominal speed.</summary>
    public double Median => P95 / Math.Exp(1.6448536 * Sigma);
}

/// <summary>A change of behaviour over a time span of the rollout (seconds after the canary started); Until null: to the end.</summary>
/// <param name="From">Start, seconds after the canary started.</param>
/// <param name="Until">End, or null for the rest of the rollout.</param>
/// <param name="Canary">Whether the canary changes.</param>
/// <param name="Stable">Whether stable changes (a shared incident changes both).</param>
/// <param name="LatencyFactor">Latency multiplier while it lasts.</param>
/// <param name="ErrorRate">Error rate while it lasts; null keeps the track's own.</param>
public sealed record Episode(double From, double? Until, bool Canary, bool Stable, double LatencyFactor, double? ErrorRate);

/// <summary>
/// GruServer traffic as Prometheus stores it, simulated in process: bursty Poisson arrivals split by the canary's
/// effective weight, every pod with its own speed (±3% node variation), log-normal latency counted into GruServer's
/// real histogram bounds (<see cref="LatencyBuckets"/> with the SLO threshold), errors as a thinning of requests,
/// and one cumulative sample per track every scrape interval (with a random phase). Requests are counted by scrape:
/// exactly what the stored samples of real counters hold, which a test checks against a real Prometheus.
/// </summary>
public sealed class TrafficSimulation
{
    /// <summary>GruServer's bounds for a 200 ms SLO, +Inf last.</summary>
    public static readonly double[] Bounds = [.. LatencyBuckets.With([TimeSpan.FromMilliseconds(200)]), double.PositiveInfinity];

    private readonly Random _random;
    private readonly double _rate;
    private readonly TimeSpan _scrape;
    private readonly double _burstSigma;
    private readonly IReadOnlyList<Episode> _episodes;
    private readonly List<double> _podSpeeds = [];

    /// <summary>Starts the simulation at <paramref name="start"/>; the first scrape falls in the first scrape interval.</summary>
    public TrafficSimulation(int seed, DateTimeOffset start, double requestsPerSecond, TrackBehavior stable, TrackBehavior canary,
        IReadOnlyList<Episode> episodes, double podSpread = 0.03, double? canaryPodSpeed = null, TimeSpan? scrapeInterval = null, double burstSigma = 0.3)
    {
        _random = new Random(seed);
        _rate = requestsPerSecond;
        _scrape = scrapeInterval ?? TimeSpan.FromSeconds(15);
        _burstSigma = burstSigma;
        _episodes = episodes;
        Start = start;
        PodSpread = podSpread;
        CanaryPodSpeed = canaryPodSpeed;
        StableBehavior = stable;
        CanaryBehavior = canary;
        NextScrape = start + _scrape * _random.NextDouble();
        Stable = new SimulatedTrack(Bounds.Length);
        Canary = new SimulatedTrack(Bounds.Length);
    }

    public DateTimeOffset Start { get; }

    public double PodSpread { get; }

    public double? CanaryPodSpeed { get; }

    public TrackBehavior StableBehavior { get; }

    public TrackBehavior CanaryBehavior { get; }

    public DateTimeOffset NextScrape { get; private set; }

    public SimulatedTrack Stable { get; }

    public SimulatedTrack Canary { get; }

    /// <summary>
    /// Serves traffic until <paramref name="until"/> with the canary's pods taking <paramref name="canaryShare"/> of it,
    /// recording a sample per track at every scrape on the way.
    /// </summary>
    public void AdvanceTo(DateTimeOffset until, int stablePods, int canaryPods, double canaryShare)
    {
        while (NextScrape <= until)
        {
            var burst = Math.Exp(_burstSigma * Normal() - _burstSigma * _burstSigma / 2); // mean 1: traffic comes in waves
            var requests = _rate * _scrape.TotalSeconds * burst;
            var seconds = (NextScrape - Start).TotalSeconds;
            Serve(Stable, StableBehavior, false, seconds, stablePods, requests * (1 - canaryShare));
            Serve(Canary, CanaryBehavior, true, seconds, canaryPods, requests * canaryShare);
            Stable.Record(NextScrape, stablePods > 0);
            Canary.Record(NextScrape, canaryPods > 0);
            NextScrape += _scrape;
        }
    }

    private void Serve(SimulatedTrack track, TrackBehavior behavior, bool isCanary, double seconds, int pods, double requests)
    {
        if (pods <= 0 || requests <= 0)
        {
            return;
        }

        var factor = 1.0;
        var errors = behavior.ErrorRate;
        foreach (var e in _episodes)
        {
            if (seconds >= e.From && (e.Until is not { } end || seconds < end) && (isCanary ? e.Canary : e.Stable))
            {
                factor *= e.LatencyFactor;
                errors = e.ErrorRate ?? errors;
            }
        }

        var median = behavior.Median * factor;
        for (var pod = 0; pod < pods; pod++)
        {
            var speed = isCanary && CanaryPodSpeed is { } fixedSpeed ? fixedSpeed : PodSpeed(isCanary ? 1000 + pod : pod);
            var podMedian = median * speed;
            var mean = requests / pods;
            double below = 0;
            for (var b = 0; b < Bounds.Length; b++)
            {
                var cdf = double.IsPositiveInfinity(Bounds[b]) ? 1 : NormalCdf(Math.Log(Bounds[b] / podMedian) / behavior.Sigma);
                var n = Poisson(mean * (cdf - below));
                below = cdf;
                track.Buckets[b] += n;
                track.Requests += n;
            }

            track.Errors += Poisson(mean * errors);
        }

        track.Errors = Math.Min(track.Errors, track.Requests);
    }

    /// <summary>A pod's speed factor, fixed per pod for the whole rollout (the node it runs on).</summary>
    private double PodSpeed(int pod)
    {
        while (_podSpeeds.Count <= pod % 2000)
        {
            _podSpeeds.Add(1 + PodSpread * (2 * _random.NextDouble() - 1));
        }

        return _podSpeeds[pod % 2000];
    }

    private long Poisson(double mean)
    {
        if (mean <= 0)
        {
            return 0;
        }

        if (mean < 40)
        {
            var limit = Math.Exp(-mean);
            var product = _random.NextDouble();
            long k = 0;
            while (product > limit)
            {
                k++;
                product *= _random.NextDouble();
            }

            return k;
        }

        return Math.Max(0, (long)Math.Round(mean + Math.Sqrt(mean) * Normal()));
    }

    private double Normal() =>
        Math.Sqrt(-2 * Math.Log(1 - _random.NextDouble())) * Math.Cos(2 * Math.PI * _random.NextDouble());

    /// <summary>Φ(z), with the judge's own normal tail.</summary>
    private static double NormalCdf(double z) => 1 - MannWhitneyU.UpperTailNormal(z);
}

/// <summary>One track's counters (summed over its pods) and their samples, one per scrape.</summary>
public sealed class SimulatedTrack(int buckets)
{
    public long[] Buckets { get; } = new long[buckets];

    public long Requests { get; set; }

    public long Errors { get; set; }

    /// <summary>Scrape times of the samples, ascending.</summary>
    public List<DateTimeOffset> Times { get; } = [];

    /// <summary>Per sample: cumulative requests, errors and bucket counts (per bucket, not cumulative over bounds).</summary>
    public List<(long Requests, long Errors, long[] Buckets)> Samples { get; } = [];

    /// <summary>Stores a sample when the track has pods (a track without pods has no target to scrape).</summary>
    public void Record(DateTimeOffset time, bool scraped)
    {
        if (scraped)
        {
            Times.Add(time);
            Samples.Add((Requests, Errors, (long[])Buckets.Clone()));
        }
    }

    /// <summary>Index of the last sample at or before <paramref name="time"/>, -1 when none.</summary>
    public int LastAtOrBefore(DateTimeOffset time)
    {
        var i = Times.BinarySearch(time);
        return i >= 0 ? i : ~i - 1;
    }
}
