using System.Globalization;
using k8s.Models;

namespace GruNodeAgent.Scheduling;

/// <summary>The node as the scheduler's filters see it.</summary>
internal sealed record NodeView(
    string Name,
    IReadOnlyDictionary<string, string> Labels,
    IReadOnlyList<V1Taint> Taints,
    IReadOnlyDictionary<string, decimal> Allocatable,
    bool Unschedulable = false);

/// <summary>The outcome of filtering one pod against the node: it fits, or the reasons it does not.</summary>
internal sealed record FitResult(IReadOnlyList<string> Reasons)
{
    public bool Fits => Reasons.Count == 0;

    /// <summary>
    /// kube-scheduler's FitError text for a one-node cluster, e.g. "0/1 nodes are available: 1 Insufficient nvidia.com/gpu."
    /// (reasons sorted by name, as its histogram sort does for equal counts).
    /// </summary>
    public string Message => "0/1 nodes are available: " + string.Join(", ", Reasons.Order(StringComparer.Ordinal).Select(r => "1 " + r)) + ".";
}

/// <summary>
/// kube-scheduler's default filters that matter on one node, in its plugin order (NodeUnschedulable, TaintToleration,
/// NodeAffinity, NodeResourcesFit): the first failing filter's reasons are the node's, as in the scheduling framework.
/// Pure, so each rule is table-tested.
/// </summary>
internal static class PodFit
{
    public const string Pods = "pods";

    public static FitResult Check(V1Pod pod, NodeView node, IEnumerable<V1Pod> podsOnNode)
    {
        var spec = pod.Spec;
        if (node.Unschedulable && !(spec.Tolerations ?? []).Any(t => Tolerates(t, new V1Taint { Key = "node.kubernetes.io/unschedulable", Effect = "NoSchedule" })))
        {
            return new(["node(s) were unschedulable"]);
        }

        var untolerated = node.Taints
            .Where(t => t.Effect is "NoSchedule" or "NoExecute")
            .FirstOrDefault(t => !(spec.Tolerations ?? []).Any(tol => Tolerates(tol, t)));
        if (untolerated is not null)
        {
            return new([$"node(s) had untolerated taint {{{untolerated.Key}: {untolerated.Value}}}"]);
        }

        if (!MatchesNodeSelector(spec, node))
        {
            return new(["node(s) didn't match Pod's node affinity/selector"]);
        }

        var reasons = new List<string>();
        var others = podsOnNode.Where(p => p.Metadata.Uid != pod.Metadata.Uid).ToList();
        if (others.Count + 1 > node.Allocatable.GetValueOrDefault(Pods, decimal.MaxValue))
        {
            reasons.Add("Too many pods");
        }

        var wanted = Requests(pod);
        foreach (var (resource, amount) in wanted.OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            if (amount <= 0) continue;
            var used = others.Sum(p => Requests(p).GetValueOrDefault(resource));
            if (used + amount > node.Allocatable.GetValueOrDefault(resource))
            {
                reasons.Add("Insufficient " + resource);
            }
        }

        return new(reasons);
    }

    /// <summary>
    /// A pod's effective requests: the sum over containers, or the largest init container's if higher (init containers
    /// run one at a time); a resource with only a limit requests its limit, as the API server defaults it.
    /// </summary>
    public static Dictionary<string, decimal> Requests(V1Pod pod)
    {
        var total = new Dictionary<string, decimal>(StringComparer.Ordinal);
        foreach (var container in pod.Spec.Containers ?? [])
        {
            foreach (var (name, value) in ContainerRequests(container)) total[name] = total.GetValueOrDefault(name) + value;
        }

        foreach (var init in pod.Spec.InitContainers ?? [])
        {
            foreach (var (name, value) in ContainerRequests(init)) total[name] = Math.Max(total.GetValueOrDefault(name), value);
        }

        foreach (var (name, value) in pod.Spec.Overhead ?? new Dictionary<string, ResourceQuantity>())
        {
            total[name] = total.GetValueOrDefault(name) + value.ToDecimal();
        }

        return total;
    }

    private static Dictionary<string, decimal> ContainerRequests(V1Container container)
    {
        var result = new Dictionary<string, decimal>(StringComparer.Ordinal);
        foreach (var (name, value) in container.Resources?.Limits ?? new Dictionary<string, ResourceQuantity>()) result[name] = value.ToDecimal();
        foreach (var (name, value) in container.Resources?.Requests ?? new Dictionary<string, ResourceQuantity>()) result[name] = value.ToDecimal();
        return result;
    }

    /// <summary>Whether <paramref name="toleration"/> tolerates <paramref name="taint"/> (core/v1 Toleration.ToleratesTaint).</summary>
    public static bool Tolerates(V1Toleration toleration, V1Taint taint)
    {
        if (!string.IsNullOrEmpty(toleration.Effect) && toleration.Effect != taint.Effect) return false;
        if (!string.IsNullOrEmpty(toleration.Key) && toleration.Key != taint.Key) return false;
        return toleration.OperatorProperty switch
        {
            "Exists" => true,
            "Equal" or "" or null => !string.IsNullOrEmpty(toleration.Key) && (toleration.Value ?? "") == (taint.Value ?? ""),
            _ => false,
        };
    }

    /// <summary>spec.nodeSelector, and requiredDuringSchedulingIgnoredDuringExecution node affinity (terms ORed, requirements ANDed).</summary>
    public static bool MatchesNodeSelector(V1PodSpec spec, NodeView node)
    {
        foreach (var (key, value) in spec.NodeSelector ?? new Dictionary<string, string>())
        {
            if (!node.Labels.TryGetValue(key, out var actual) || actual != value) return false;
        }

        var terms = spec.Affinity?.NodeAffinity?.RequiredDuringSchedulingIgnoredDuringExecution?.NodeSelectorTerms;
        if (terms is null || terms.Count == 0) return true;
        return terms.Any(term =>
            (term.MatchExpressions ?? []).Count + (term.MatchFields ?? []).Count > 0 &&
            (term.MatchExpressions ?? []).All(r => Matches(r, node.Labels.TryGetValue(r.Key, out var v) ? v : null)) &&
            (term.MatchFields ?? []).All(r => r.Key == "metadata.name" && Matches(r, node.Name)));
    }

    private static bool Matches(V1NodeSelectorRequirement requirement, string? value)
    {
        var values = requirement.Values ?? [];
        return requirement.OperatorProperty switch
        {
            "In" => value is not null && values.Contains(value),
            "NotIn" => value is null || !values.Contains(value),
            "Exists" => value is not null,
            "DoesNotExist" => value is null,
            "Gt" => Compare(value, values, (a, b) => a > b),
            "Lt" => Compare(value, values, (a, b) => a < b),
            _ => false,
        };
    }

    private static bool Compare(string? value, IList<string> values, Func<long, long, bool> compare) =>
        values.Count == 1 && value is not null &&
        long.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var actual) &&
        long.TryParse(values[0], NumberStyles.Integer, CultureInfo.InvariantCulture, out var bound) &&
        compare(actual, bound);
}
