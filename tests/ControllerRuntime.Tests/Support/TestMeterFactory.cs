using System.Diagnostics.Metrics;

namespace ControllerRuntime.Tests.Support;

/// <summary>A meter factory for tests that need a ControllerMetrics without a host.</summary>
internal sealed class TestMeterFactory : IMeterFactory
{
    private readonly List<Meter> _meters = [];

    public Meter Create(MeterOptions options)
    {
        // Like the real factory: meters belong to the factory that made them.
        options.Scope = this;
        var meter = new Meter(options);
        _meters.Add(meter);
        return meter;
    }

    public void Dispose()
    {
        foreach (var meter in _meters) meter.Dispose();
    }
}
