using GruServer.Hosting;

namespace GruServer.Faults;

/// <summary>Fault injection for tests and game days: extra latency and a fraction of requests failed with 500.
/// Off by default; logged at start and exported as <c>gru_fault_injection_active</c> so it is never on silently.</summary>
internal sealed class FaultInjection
{
    private readonly TimeProvider _time;
    private readonly Random _random;

    public FaultInjection(GruServerOptions options, TimeProvider time, Random random)
    {
        ArgumentNullException.ThrowIfNull(options);
        Latency = options.FaultLatency;
        ErrorRate = options.FaultErrorRate;
        _time = time;
        _random = random;
    }

    public TimeSpan Latency { get; }

    public double ErrorRate { get; }

    public bool LatencyActive => Latency > TimeSpan.Zero;

    public bool ErrorsActive => ErrorRate > 0;

    /// <summary>Waits the injected latency, then says whether this request must fail.</summary>
    public async ValueTask<bool> ApplyAsync(CancellationToken cancellationToken)
    {
        if (LatencyActive)
        {
            await Task.Delay(Latency, _time, cancellationToken).ConfigureAwait(false);
        }

        if (!ErrorsActive)
        {
            return false;
        }

        lock (_random)
        {
            return _random.NextDouble() < ErrorRate;
        }
    }
}
