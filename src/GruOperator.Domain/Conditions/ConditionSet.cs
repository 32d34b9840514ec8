namespace GruOperator.Domain.Conditions;

/// <summary>
/// Condition list arithmetic (Argo Rollouts' utils/conditions): setting a condition keeps its lastTransitionTime when
/// its status does not change, so "since when" stays true while reasons and messages are refined.
/// </summary>
public static class ConditionSet
{
    /// <summary>Returns <paramref name="conditions"/> with <paramref name="next"/> set in place of any condition of its type.</summary>
    /// <example>
    /// Ready=False/ReplicasNotReady at 10:00, then set Ready=False/Unschedulable at 10:05 → lastTransitionTime stays 10:00.
    /// Then set Ready=True/StableServing at 10:07 → lastTransitionTime becomes 10:07.
    /// </example>
    public static IReadOnlyList<Condition> Set(IReadOnlyList<Condition>? conditions, Condition next)
    {
        var result = new List<Condition>(conditions?.Count + 1 ?? 1);
        var replaced = false;
        foreach (var existing in conditions ?? [])
        {
            if (existing.Type != next.Type)
            {
                result.Add(existing);
                continue;
            }
            replaced = true;
            result.Add(existing.Status == next.Status ? next with { LastTransitionTime = existing.LastTransitionTime } : next);
        }
        if (!replaced) result.Add(next);
        return result;
    }

    /// <summary>The condition of <paramref name="type"/>, or null.</summary>
    public static Condition? Find(IReadOnlyList<Condition>? conditions, string type) =>
        conditions?.FirstOrDefault(c => c.Type == type);

    /// <summary>Whether two lists say the same thing (same conditions in the same order, all fields equal).</summary>
    public static bool Equivalent(IReadOnlyList<Condition>? a, IReadOnlyList<Condition>? b) =>
        (a ?? []).SequenceEqual(b ?? []);
}
