using GruOperator.Domain.Analysis;
using GruServing.Contract.Serving;

namespace AnalysisBench;

/// <summary>
/// How one track behaves: log-normal latency with this true p95 and spread, a fraction answered 5xx, and optionally a
/// heavier tail: <paramref name="TailShare"/> of requests (a slow path, GC pauses, cold caches) take
/// <paramref name="TailFactor"/> times as long.
/// </summary>
/// <param name="P95">True 95th percentile latency in seconds of the main path (a pod at nominal speed).</param>
/// <param name="Sigma">Log-normal spread (σ of ln latency).</param>
/// <param name="ErrorRate">Fraction of requests answered 5xx.</param>
/// <param name="TailShare">Fraction of requests on the slow path.</param>
/// <param name="TailFactor">How much slower the slow path is.</param>
public sealed record TrackBehavior(double P95, double Sigma, double ErrorRate, double TailShare = 0, double TailFactor = 1)
{
    /// <summary>Median latency of the main path of a pod at nominal speed.</summary>
    public double Median => P95 / Math.Exp(1.6448536 * Sigma);

    /// <summary>P(latency ≤ <paramref name="seconds"/>) for a pod whose main-path median is <paramref name="median"/>.</summary>
    public double Cdf(double seconds, double median)
    {
        var main = NormalCdf(Math.Log(seconds / median) / Sigma);
        return TailShare <= 0 ? main : (1 - TailShare) * main + TailShare * NormalCdf(Math.Log(seconds / (median * TailFactor)) / Sigma);
    }

    /// <summary>
    /// The same main path with a tail heavy enough to make the p95 <paramref name="p95Factor"/> times worse when
    /// <paramref name="tailShare"/> of requests take the slow path: solves for the slow path's factor (bisection).
    /// The median moves only a little (a few percent): a tail-only regression.
    /// </summary>
    public TrackBehavior WithTail(double tailShare, double p95Factor)
    {
        var target = P95 * p95Factor;
        double low = 1, high = 100;
        for (var i = 0; i < 100; i++)
        {
            var factor = (low + high) / 2;
            var slower = (this with { TailShare = tailShare, TailFactor = factor }).Cdf(target, Median) < 0.95;
            (low, high) = slower ? (low, factor) : (factor, high);
        }

        return this with { TailShare = tailShare, TailFactor = (low + high) / 2 };
    }

    /// <summary>Φ(z), with the judge's own normal tail.</summary>
    internal static double NormalCdf(double z) => 1 - MannWhitneyU.UpperTailNormal(z);
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
/// effective weight, every pod with its own speed (±3% node variation), its own counters (a new pod counts from zero
/// from its start) and its own scrape phase (Prometheus spreads targets over the interval), log-normal latency counted
/// into GruServer's real histogram bounds (<see cref="LatencyBuckets"/> with the SLO threshold), errors as a thinning
/// of requests. Each pod's traffic is generated piecewise between its own scrapes, split where the traffic's wave or
/// an episode changes, so a change shows in a pod's counters at exactly the moment it happened.
/// </summary>
public sealed class TrafficSimulation
{
    /// <summary>GruServer's bounds for a 200 ms SLO, +Inf last.</summary>
    public static readonly double[] Bounds = [.. LatencyBuckets.With([TimeSpan.FromMilliseconds(200)]), double.PositiveInfinity];

    private readonly Random _random;
    private readonly double _rate;
    private readonly double _burstSigma;
    private readonly IReadOnlyList<Episode> _episodes;
    private readonly List<double> _waves = [];
    private readonly List<SimulatedPod> _stablePods = [];
    private readonly List<SimulatedPod> _canaryPods = [];
    private DateTimeOffset _now;
    private double _canaryShare;

    /// <summary>Starts the simulation at <paramref name="start"/> with no pods.</summary>
    public TrafficSimulation(int seed, DateTimeOffset start, double requestsPerSecond, TrackBehavior stable, TrackBehavior canary,
        IReadOnlyList<Episode> episodes, double podSpread = 0.03, double? canaryPodSpeed = null, TimeSpan? scrapeInterval = null, double burstSigma = 0.3)
    {
        _random = new Random(seed);
        _rate = requestsPerSecond;
        ScrapeInterval = scrapeInterval ?? TimeSpan.FromSeconds(15);
        _burstSigma = burstSigma;
        _episodes = episodes;
        Start = start;
        _now = start;
        PodSpread = podSpread;
        CanaryPodSpeed = canaryPodSpeed;
        StableBehavior = stable;
        CanaryBehavior = canary;
        Stable = new SimulatedTrack(_stablePods);
        Canary = new SimulatedTrack(_canaryPods);
    }

    public DateTimeOffset Start { get; }

    public TimeSpan ScrapeInterval { get; }

    public double PodSpread { get; }

    public double? CanaryPodSpeed { get; }

    public TrackBehavior StableBehavior { get; }

    public TrackBehavior CanaryBehavior { get; }

    public SimulatedTrack Stable { get; }

    public SimulatedTrack Canary { get; }

    /// <summary>
    /// Serves traffic until <paramref name="until"/> with <paramref name="stablePods"/> and <paramref name="canaryPods"/>
    /// running (pods added start now and count from zero; pods removed stop being scraped) and the canary's pods taking
    /// <paramref name="canaryShare"/> of it, recording each pod's sample at each of its scrapes on the way.
    /// </summary>
    public void AdvanceTo(DateTimeOffset until, int stablePods, int canaryPods, double canaryShare)
    {
        Scale(_stablePods, stablePods, isCanary: false);
        Scale(_canaryPods, canaryPods, isCanary: true);
        _canaryShare = canaryShare;
        foreach (var pod in _stablePods.Concat(_canaryPods).Where(p => p.Running))
        {
            Serve(pod, until, pod.IsCanary ? CanaryBehavior : StableBehavior, pod.IsCanary ? canaryShare : 1 - canaryShare,
                pod.IsCanary ? canaryPods : stablePods);
        }

        _now = until;
    }

    private void Scale(List<SimulatedPod> pods, int count, bool isCanary)
    {
        var running = pods.Where(p => p.Running).ToList();
        for (var i = count; i < running.Count; i++)
        {
            running[i].Running = false; // its series ends: no more scrapes
        }

        for (var i = running.Count; i < count; i++)
        {
            var speed = isCanary && CanaryPodSpeed is { } fixedSpeed ? fixedSpeed : 1 + PodSpread * (2 * _random.NextDouble() - 1);
            // Prometheus scrapes each target at its own offset within the interval; the first scrape after the pod started.
            var phase = ScrapeInterval * _random.NextDouble();
            var sinceStart = _now - Start;
            var first = Start + phase + ScrapeInterval * Math.Ceiling((sinceStart - phase) / ScrapeInterval);
            if (first <= _now) first += ScrapeInterval;
            pods.Add(new SimulatedPod(isCanary, speed, first, _now, Bounds.Length));
        }
    }

    private void Serve(SimulatedPod pod, DateTimeOffset until, TrackBehavior behavior, double share, int pods)
    {
        while (pod.ServedUntil < until)
        {
            // The next change: the pod's scrape, the traffic's next wave, an episode's edge, or the end of this advance.
            var from = pod.ServedUntil;
            var seconds = (from - Start).TotalSeconds;
            var wave = (int)Math.Floor(seconds / ScrapeInterval.TotalSeconds);
            var next = Min(until, pod.NextScrape, Start + ScrapeInterval * (wave + 1));
            foreach (var e in _episodes)
            {
                foreach (var edge in (ReadOnlySpan<double?>)[e.From, e.Until])
                {
                    if (edge is { } s && Start + TimeSpan.FromSeconds(s) is var at && at > from && at < next) next = at;
                }
            }

            var requests = _rate * Wave(wave) * share / pods * (next - from).TotalSeconds;
            Generate(pod, behavior, seconds, requests);
            pod.ServedUntil = next;
            if (next == pod.NextScrape)
            {
                pod.Record(next);
                pod.NextScrape += ScrapeInterval;
            }
        }
    }

    private void Generate(SimulatedPod pod, TrackBehavior behavior, double seconds, double mean)
    {
        if (mean <= 0)
        {
            return;
        }

        var factor = 1.0;
        var errors = behavior.ErrorRate;
        foreach (var e in _episodes)
        {
            if (seconds >= e.From && (e.Until is not { } end || seconds < end) && (pod.IsCanary ? e.Canary : e.Stable))
            {
                factor *= e.LatencyFactor;
                errors = e.ErrorRate ?? errors;
            }
        }

        var podMedian = behavior.Median * factor * pod.Speed;
        double below = 0;
        long served = 0;
        for (var b = 0; b < Bounds.Length; b++)
        {
            var cdf = double.IsPositiveInfinity(Bounds[b]) ? 1 : behavior.Cdf(Bounds[b], podMedian);
            var n = Poisson(mean * (cdf - below));
            below = cdf;
            pod.Buckets[b] += n;
            served += n;
        }

        pod.Requests += served;
        pod.Errors = Math.Min(pod.Errors + Poisson(mean * errors), pod.Requests);
    }

    /// <summary>The traffic's wave multiplier for the <paramref name="index"/>-th scrape interval: mean 1, shared by every pod.</summary>
    private double Wave(int index)
    {
        while (_waves.Count <= index)
        {
            _waves.Add(Math.Exp(_burstSigma * Normal() - _burstSigma * _burstSigma / 2));
        }

        return _waves[index];
    }

    private static DateTimeOffset Min(DateTimeOffset a, DateTimeOffset b, DateTimeOffset c) => a < b ? (a < c ? a : c) : (b < c ? b : c);

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
}

/// <summary>One pod: its counters and their samples, one per scrape of this pod.</summary>
public sealed class SimulatedPod(bool isCanary, double speed, DateTimeOffset firstScrape, DateTimeOffset started, int buckets)
{
    public bool IsCanary { get; } = isCanary;

    public double Speed { get; } = speed;

    public bool Running { get; set; } = true;

    public DateTimeOffset NextScrape { get; set; } = firstScrape;

    public DateTimeOffset ServedUntil { get; set; } = started;

    public long[] Buckets { get; } = new long[buckets];

    public long Requests { get; set; }

    public long Errors { get; set; }

    /// <summary>Scrape times of the samples, ascending.</summary>
    public List<DateTimeOffset> Times { get; } = [];

    /// <summary>Per sample: cumulative requests, errors and bucket counts (per bucket, not cumulative over bounds).</summary>
    public List<(long Requests, long Errors, long[] Buckets)> Samples { get; } = [];

    public void Record(DateTimeOffset time)
    {
        Times.Add(time);
        Samples.Add((Requests, Errors, (long[])Buckets.Clone()));
    }

    /// <summary>Index of the last sample at or before <paramref name="time"/>, -1 when none.</summary>
    public int LastAtOrBefore(DateTimeOffset time)
    {
        var i = Times.BinarySearch(time);
        return i >= 0 ? i : ~i - 1;
    }
}

/// <summary>One track's pods, each a series of its own in Prometheus.</summary>
public sealed class SimulatedTrack(IReadOnlyList<SimulatedPod> pods)
{
    public IReadOnlyList<SimulatedPod> Pods => pods;
}
