namespace GruOperator.Providers.Prometheus;

/// <summary>One stored sample of a counter: the scrape's timestamp and the value it read.</summary>
public readonly record struct CounterSample(DateTimeOffset Time, double Value);

/// <summary>
/// How much a counter grew between two instants, counted exactly from its stored samples: the last sample at or
/// before the end minus the last sample at or before the start, with counter resets (a restarted pod) counted from
/// zero as Prometheus does. Unlike <c>increase()</c> nothing is extrapolated, so the result is a whole number of
/// requests, adjoining windows add up to the total, and no request is counted in two windows. A series whose first
/// sample lies inside the window (a pod started in it) counts from zero.
/// </summary>
public static class CounterIncrease
{
    /// <summary>The growth over (<paramref name="since"/>, <paramref name="until"/>] of one series; samples in time order.</summary>
    public static double Between(IReadOnlyList<CounterSample> samples, DateTimeOffset since, DateTimeOffset until)
    {
        double previous = 0, increase = 0;
        foreach (var sample in samples)
        {
            if (sample.Time > until)
            {
                break;
            }

            if (!double.IsFinite(sample.Value))
            {
                continue;
            }

            if (sample.Time > since)
            {
                increase += sample.Value >= previous ? sample.Value - previous : sample.Value;
            }

            previous = sample.Value;
        }

        return increase;
    }
}
