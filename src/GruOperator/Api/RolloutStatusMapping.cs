using GruOperator.Domain.Analysis;
using GruOperator.Domain.Rollout;

namespace GruOperator.Api;

/// <summary>
/// Maps the rollout state machine's memory to and from <c>status</c>. Every field <see cref="CanaryRollout"/> reads
/// back lives in status, so a restarted operator or a new leader resumes where the last one wrote; a round-trip test
/// keeps it that way.
/// </summary>
internal static class RolloutStatusMapping
{
    /// <summary>The rollout state held in <paramref name="status"/>; <see cref="RolloutState.Empty"/> for a new object.</summary>
    public static RolloutState ToState(GruModelStatus? status)
    {
        if (status is null) return RolloutState.Empty;
        var stable = status.Stable is { Revision: { Length: > 0 } revision, ModelSource: { Length: > 0 } source }
            ? new TrackRevision(revision, Identity(source, status.Stable.ModelDigest))
            : null;
        return new RolloutState(
            stable,
            ToState(status.Canary),
            status.RolledBack is { Revision: { Length: > 0 } r, ModelSource: { Length: > 0 } s } rolledBack
                ? new RolledBackState(r, Identity(s, rolledBack.ModelDigest), rolledBack.Reason ?? "", rolledBack.Message ?? "", rolledBack.Time ?? default)
                : null,
            [.. (status.History ?? []).Select(ToState).OfType<HistoryEntry>()],
            [.. status.Conditions ?? []]);
    }

    /// <summary>
    /// Writes <paramref name="decision"/> into <paramref name="status"/>: phase, message, conditions, the stable track's
    /// revision and model (its replica counts stay the reconciler's), the canary, the rolled-back canary and history.
    /// <c>canary.analysis.lastRun</c> is the run recorded by this decision, else the one <paramref name="previous"/>
    /// already shows for the same run.
    /// </summary>
    public static void Apply(GruModelStatus status, RolloutDecision decision, GruModelStatus? previous)
    {
        var state = decision.Status;
        status.Phase = decision.Phase;
        status.Message = decision.Message;
        status.Conditions = [.. state.Conditions];
        if (state.Stable is { } stable)
        {
            status.Stable ??= new TrackStatus();
            status.Stable.Revision = stable.Revision;
            status.Stable.ModelSource = stable.Model.Source;
            status.Stable.ModelDigest = stable.Model.Digest;
            status.Stable.ShortDigest = stable.Model.Sha256Hex?[..12];
        }
        status.Canary = state.Canary is { } canary ? ToStatus(canary, decision.RecordedRun, previous?.Canary?.Analysis?.LastRun) : null;
        status.RolledBack = state.RolledBack is { } rolledBack
            ? new RolledBackStatus
            {
                Revision = rolledBack.Revision,
                ModelSource = rolledBack.Model.Source,
                ModelDigest = rolledBack.Model.Digest,
                Reason = rolledBack.Reason,
                Message = rolledBack.Message,
                Time = rolledBack.Time,
            }
            : null;
        status.History = [.. state.History.Select(h => new RolloutRecord
        {
            Revision = h.Revision,
            ModelSource = h.Model.Source,
            ModelDigest = h.Model.Digest,
            Outcome = h.Outcome.ToString(),
            Reason = h.Reason,
            Message = h.Message,
            Time = h.Time,
        })];
    }

    private static CanaryStatus ToStatus(CanaryState canary, AnalysisRun? recorded, AnalysisRunStatus? previousRun)
    {
        AnalysisRunStatus? lastRun = null;
        if (canary.LastRun is { } last)
        {
            lastRun = recorded is not null && recorded.Time == last.Time ? AnalysisStatusMapping.ToStatus(recorded)
                : previousRun is not null && previousRun.Time == last.Time ? previousRun
                : new AnalysisRunStatus { Time = last.Time, Verdict = AnalysisStatusMapping.ToStatus(last.Verdict), Reason = last.Reason };
        }
        return new CanaryStatus
        {
            Revision = canary.Revision,
            ModelSource = canary.Model.Source,
            ModelDigest = canary.Model.Digest,
            Step = canary.Step,
            Weight = canary.Weight,
            EffectiveWeight = canary.EffectiveWeight,
            Traffic = $"{canary.Weight}/{canary.EffectiveWeight}",
            StartedAt = canary.StartedAt,
            StepStartedAt = canary.StepStartedAt,
            StepReadyAt = canary.StepReadyAt,
            NotReadySince = canary.NotReadySince,
            PauseConditions = [.. canary.PauseConditions.Select(p => new PauseConditionStatus { Reason = p.Reason.ToString(), StartTime = p.StartTime })],
            Promotion = canary.Promotion,
            Analysis = new AnalysisStatus
            {
                Runs = canary.Analysis.Runs,
                ConsecutiveFailures = canary.Analysis.ConsecutiveFailures,
                ConsecutiveInconclusive = canary.Analysis.ConsecutiveInconclusive,
                NextRunAt = canary.NextRunAt,
                LastRun = lastRun,
            },
        };
    }

    private static CanaryState? ToState(CanaryStatus? canary)
    {
        if (canary is not { Revision: { Length: > 0 } revision, ModelSource: { Length: > 0 } source }) return null;
        var analysis = canary.Analysis;
        var lastRun = analysis?.LastRun is { Time: { } time, Verdict: { } verdict } run ? new RunRecord(time, ToVerdict(verdict), run.Reason ?? "") : null;
        var started = canary.StartedAt ?? default;
        return new CanaryState(
            revision,
            Identity(source, canary.ModelDigest),
            canary.Step,
            canary.Weight,
            canary.EffectiveWeight,
            started,
            canary.StepStartedAt ?? started,
            canary.StepReadyAt,
            canary.NotReadySince,
            new AnalysisCounters(analysis?.Runs ?? 0, analysis?.ConsecutiveFailures ?? 0, analysis?.ConsecutiveInconclusive ?? 0),
            lastRun,
            // A reason this operator does not know (a hand-edited status) is dropped rather than trusted.
            [.. (canary.PauseConditions ?? [])
                .Where(p => Enum.TryParse<PauseReason>(p.Reason, out _))
                .Select(p => new PauseCondition(Enum.Parse<PauseReason>(p.Reason), p.StartTime ?? started))],
            canary.Promotion) { NextRunAt = analysis?.NextRunAt };
    }

    private static HistoryEntry? ToState(RolloutRecord record) =>
        record is { Revision: { Length: > 0 } revision, ModelSource: { Length: > 0 } source } && Enum.TryParse<RolloutOutcome>(record.Outcome, out var outcome)
            ? new HistoryEntry(revision, Identity(source, record.ModelDigest), outcome, record.Reason ?? "", record.Message ?? "", record.Time ?? default)
            : null;

    private static ModelIdentity Identity(string source, string? digest) =>
        new(source, string.IsNullOrEmpty(digest) ? null : digest.StartsWith("sha256:", StringComparison.Ordinal) ? digest[7..] : digest);

    private static Verdict ToVerdict(AnalysisVerdict verdict) => verdict switch
    {
        AnalysisVerdict.Passed => Verdict.Passed,
        AnalysisVerdict.Failed => Verdict.Failed,
        AnalysisVerdict.Inconclusive => Verdict.Inconclusive,
        _ => throw new ArgumentOutOfRangeException(nameof(verdict), verdict, "unknown verdict"),
    };
}
