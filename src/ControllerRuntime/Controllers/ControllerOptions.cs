using System.ComponentModel.DataAnnotations;

namespace ControllerRuntime.Controllers;

/// <summary>How a controller runs its workers.</summary>
public sealed class ControllerOptions
{
    /// <summary>Concurrent reconciles (never two for one key).</summary>
    [Range(1, 256)]
    public int Workers { get; set; } = 4;

    /// <summary>First retry delay after a failed reconcile; doubles on each failure.</summary>
    public TimeSpan BackoffBase { get; set; } = TimeSpan.FromMilliseconds(5);

    /// <summary>Longest retry delay after repeated failures.</summary>
    public TimeSpan BackoffMax { get; set; } = TimeSpan.FromSeconds(1000);

    /// <summary>Every object is reconciled again after this long even without a change (0: never).</summary>
    public TimeSpan ResyncPeriod { get; set; } = TimeSpan.FromMinutes(10);
}
