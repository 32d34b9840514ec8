namespace GruOperator.Domain.Analysis;

/// <summary>
/// Anytime-valid tests for shares of requests (Lindon et al., "Rapid Regression Detection in Software Deployments
/// through Sequential Testing", KDD 2022; "Anytime Valid Inference for Multinomial Count Data", NeurIPS 2022): an
/// e-value that may be looked at after every request, as often as one likes, and still exceeds 1/α with probability at
/// most α over the whole step when the null holds (Ville's inequality). That is what lets a step's evidence accumulate
/// over all its traffic: a run re-reads the step's counts and tests them again, without the repeated looks inflating the
/// false-rollback rate the way repeated fixed-sample tests would.
/// <para>
/// The statistic is a mixture of likelihood ratios of Bernoulli(p) against Bernoulli(p0) over a fixed grid of
/// alternatives above p0 (odds ratios 1.25 to 30, equal weights): each ratio is a nonnegative supermartingale under
/// every p ≤ p0 (the Bernoulli family has monotone likelihood ratios), so the mixture is one too and the composite null
/// "share ≤ p0" is covered. It depends on the counts only, so a run needs no state beyond the step's start.
/// Written here because no maintained .NET library offers sequential tests.
/// </para>
/// </summary>
public static class SequentialTests
{
    /// <summary>The alternatives, as odds ratios against the null's odds: weak regressions (1.5% vs 1%) to outages.</summary>
    private static ReadOnlySpan<double> OddsRatios => [1.25, 1.5, 2, 3, 5, 10, 30];

    /// <summary>
    /// The e-value of <paramref name="events"/> out of <paramref name="trials"/> against "the share is at most
    /// <paramref name="share"/>": 1 without data, large when the counts speak against the null.
    /// </summary>
    public static double EValue(long trials, long events, double share)
    {
        if (trials <= 0 || share >= 1)
        {
            return 1;
        }

        if (share <= 0)
        {
            return events > 0 ? double.PositiveInfinity : 1; // a zero allowance: a single event disproves it
        }

        var odds = share / (1 - share);
        double sum = 0;
        foreach (var ratio in OddsRatios)
        {
            var p = odds * ratio / (1 + odds * ratio);
            var log = events * Math.Log(p / share) + (trials - events) * Math.Log((1 - p) / (1 - share));
            sum += Math.Exp(Math.Min(log, 700));
        }

        return sum / OddsRatios.Length;
    }

    /// <summary>The anytime-valid p-value, min(1, 1/e): below α exactly when the e-value reaches 1/α.</summary>
    public static double PValue(long trials, long events, double share) => Math.Min(1, 1 / EValue(trials, events, share));

    /// <summary>
    /// Events of two tracks compared, as Lindon et al. compare count streams: given an event, under the null it is the
    /// canary's with probability q0 = θ0ρ / (θ0ρ + 1 − ρ), where ρ is the canary's share of requests and θ0 the tolerated
    /// ratio of the canary's event rate to stable's. The anytime-valid p-value of the canary's share of events against q0.
    /// </summary>
    public static double SplitPValue(long canaryEvents, long canaryRequests, long stableEvents, long stableRequests, double toleratedRatio)
    {
        if (canaryRequests <= 0 || stableRequests <= 0)
        {
            return 1;
        }

        return PValue(canaryEvents + stableEvents, canaryEvents, SplitShare(canaryRequests, stableRequests, toleratedRatio));
    }

    /// <summary>q0 = θ0ρ / (θ0ρ + 1 − ρ): the largest share of events the canary may take under the null.</summary>
    public static double SplitShare(long canaryRequests, long stableRequests, double toleratedRatio)
    {
        var rho = (double)canaryRequests / (canaryRequests + stableRequests);
        return toleratedRatio * rho / (toleratedRatio * rho + 1 - rho);
    }
}
