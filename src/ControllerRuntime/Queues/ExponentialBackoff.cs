using System.Collections.Concurrent;

namespace ControllerRuntime.Queues;

/// <summary>Per-key exponential backoff (client-go's ItemExponentialFailureRateLimiter): base · 2^failures, capped.</summary>
public sealed class ExponentialBackoff
{
    private readonly ConcurrentDictionary<string, int> _failures = new(StringComparer.Ordinal);

    /// <summary>Creates a backoff starting at <paramref name="baseDelay"/> and never exceeding <paramref name="maxDelay"/>.</summary>
    public ExponentialBackoff(TimeSpan baseDelay, TimeSpan maxDelay)
    {
        if (baseDelay <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(baseDelay), "baseDelay must be positive.");
        if (maxDelay < baseDelay) throw new ArgumentOutOfRangeException(nameof(maxDelay), "maxDelay must be at least baseDelay.");
        BaseDelay = baseDelay;
        MaxDelay = maxDelay;
    }

    /// <summary>client-go's defaults: 5 ms doubling up to 1000 s.</summary>
    public static ExponentialBackoff Default() => new(TimeSpan.FromMilliseconds(5), TimeSpan.FromSeconds(1000));

    /// <summary>The first delay.</summary>
    public TimeSpan BaseDelay { get; }

    /// <summary>The largest delay ever returned.</summary>
    public TimeSpan MaxDelay { get; }

    /// <summary>Records one more failure of <paramref name="key"/> and returns how long to wait before retrying it.</summary>
    public TimeSpan NextDelay(string key)
    {
        var failures = _failures.AddOrUpdate(key, 1, static (_, n) => n == int.MaxValue ? n : n + 1);
        // 2^failures overflows quickly; once past the cap the exponent no longer matters.
        var exponent = Math.Min(failures - 1, 40);
        var ticks = BaseDelay.Ticks * Math.Pow(2, exponent);
        return ticks >= MaxDelay.Ticks ? MaxDelay : TimeSpan.FromTicks((long)ticks);
    }

    /// <summary>How many failures in a row <paramref name="key"/> has had.</summary>
    public int Failures(string key) => _failures.TryGetValue(key, out var n) ? n : 0;

    /// <summary>Forgets the failures of <paramref name="key"/>, after it succeeded.</summary>
    public void Forget(string key) => _failures.TryRemove(key, out _);
}
