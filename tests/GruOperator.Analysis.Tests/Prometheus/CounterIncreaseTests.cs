using GruOperator.Providers.Prometheus;

namespace GruOperator.Analysis.Tests.Prometheus;

public sealed class CounterIncreaseTests
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 25, 10, 0, 0, TimeSpan.Zero);

    /// <summary>Samples every 15 s from <see cref="T0"/>: value i at T0 + 15·i s.</summary>
    private static CounterSample[] Scrapes(params double[] values) =>
        values.Select((v, i) => new CounterSample(T0.AddSeconds(15 * i), v)).ToArray();

    public static TheoryData<string, CounterSample[], int, int, double> Cases => new()
    {
        // name, samples, window start and end (seconds after T0), expected increase
        { "the last sample at or before each end", Scrapes(100, 110, 130, 160), 15, 45, 50 },
        { "a window between scrapes sees the scrapes inside it", Scrapes(100, 110, 130, 160), 20, 40, 20 },
        { "no scrape inside the window: nothing counted yet", Scrapes(100, 110, 130, 160), 16, 29, 0 },
        { "a reset counts from zero, as Prometheus does", Scrapes(100, 110, 4, 9), 0, 45, 19 },
        { "a series born in the window counts from zero", Scrapes(7, 12), -30, 15, 12 },
        { "samples after the window are ignored", Scrapes(0, 10, 1000), 0, 15, 10 },
        { "a NaN sample is skipped", Scrapes(0, double.NaN, 30), 0, 30, 30 },
        { "nothing at all", [], 0, 60, 0 },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Counts_exactly_what_the_scrapes_saw(string scenario, CounterSample[] samples, int since, int until, double expected)
    {
        Assert.True(expected == CounterIncrease.Between(samples, T0.AddSeconds(since), T0.AddSeconds(until)), scenario);
    }

    [Fact]
    public void Adjoining_windows_add_up_and_never_count_a_request_twice()
    {
        var samples = Scrapes(3, 8, 8, 20, 2, 9, 15);
        var cuts = new[] { -10, 7, 30, 31, 60, 95 };

        var parts = cuts.Zip(cuts.Skip(1), (a, b) => CounterIncrease.Between(samples, T0.AddSeconds(a), T0.AddSeconds(b))).Sum();

        Assert.Equal(CounterIncrease.Between(samples, T0.AddSeconds(-10), T0.AddSeconds(95)), parts);
        Assert.Equal(3 + 5 + 0 + 12 + 2 + 7 + 6, parts);
    }
}
