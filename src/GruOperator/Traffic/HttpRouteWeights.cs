using System.Globalization;
using System.Text.Json.Nodes;
using GruServing.Contract.Serving;

namespace GruOperator.Traffic;

/// <summary>What writing a split into a route amounts to: its rules with the new weights, or why it cannot be done.</summary>
/// <param name="Rules">The route's spec.rules, every field as it was except the two owned backendRefs' weights.</param>
/// <param name="Changed">Whether any weight differs from the live route (no write is needed when none does).</param>
/// <param name="Problem">Why the route cannot carry the split, naming the rule and the fix; null when it can.</param>
internal sealed record RouteWeightsPlan(JsonArray? Rules, bool Changed, string? Problem);

/// <summary>
/// Sets a model's weights in a live HTTPRoute: pure, so every rule shape can be table-tested.
/// </summary>
/// <remarks>
/// The operator owns exactly the backendRefs that name its two track Services. Every rule holding one of them must
/// hold both and nothing else, because Gateway API weights are shares of the rule's total: only then are they the
/// exact percentages asked for. Rules that name neither are left as they are, and so is every other field of an owned
/// rule (matches, filters, timeouts, the backendRefs' ports and filters). A rule whose only backendRef is one track's
/// Service and whose every match requires the track header (<see cref="Tracks.Header"/>) with that track's name pins
/// a client there (a live Stateful sequence must not switch model version mid-canary); it is left as it is too.
/// </remarks>
internal static class HttpRouteWeights
{
    /// <summary>Gateway API's default weight of a backendRef that does not set one.</summary>
    public const int DefaultWeight = 1;

    /// <summary>Plans the write of <paramref name="stable"/>/<paramref name="canary"/> into <paramref name="route"/>.</summary>
    public static RouteWeightsPlan Plan(JsonObject route, string stableService, string canaryService, int stable, int canary)
    {
        var ns = route["metadata"]?["namespace"]?.GetValue<string>();
        var id = $"{ns}/{route["metadata"]?["name"]?.GetValue<string>()}";
        var example = $"backendRefs: [{{name: {stableService}, port: {ServerPorts.Http}}}, {{name: {canaryService}, port: {ServerPorts.Http}, weight: 0}}]";
        if (route["spec"]?["rules"] is not JsonArray live)
        {
            return Problem($"HTTPRoute {id} has no rules; add a rule with {example}");
        }

        var rules = live.DeepClone().AsArray();
        var owned = 0;
        var changed = false;
        for (var i = 0; i < rules.Count; i++)
        {
            if (rules[i]?["backendRefs"] is not JsonArray refs) continue;
            var stableRefs = refs.Where(r => Names(r, stableService, ns)).ToList();
            var canaryRefs = refs.Where(r => Names(r, canaryService, ns)).ToList();
            if (stableRefs.Count == 0 && canaryRefs.Count == 0) continue;
            if (refs.Count == 1 && PinsTrack(rules[i]!, stableRefs.Count == 1 ? Tracks.StableLabel : Tracks.CanaryLabel)) continue;
            if (stableRefs.Count != 1 || canaryRefs.Count != 1 || refs.Count != 2)
            {
                return Problem(
                    $"rule {i} of HTTPRoute {id} must have exactly two backendRefs, Service {stableService} and Service {canaryService}, " +
                    $"for the weights to be exact percentages; it has [{string.Join(", ", refs.Select(Describe))}]");
            }
            changed |= SetWeight(stableRefs[0]!, stable);
            changed |= SetWeight(canaryRefs[0]!, canary);
            owned++;
        }

        return owned == 0
            ? Problem($"HTTPRoute {id} has no rule with backendRefs to Services {stableService} and {canaryService}; add them to the rule that serves the model: {example}")
            : new RouteWeightsPlan(rules, changed, null);
    }

    private static RouteWeightsPlan Problem(string message) => new(null, false, message);

    // Every match of the rule requires the track header with exactly this track (Exact is the header match's default type).
    private static bool PinsTrack(JsonNode rule, string track) =>
        rule["matches"] is JsonArray { Count: > 0 } matches
        && matches.All(m => m?["headers"] is JsonArray headers && headers.Any(h => h is JsonObject header
            && string.Equals(Text(header, "name"), Tracks.Header, StringComparison.OrdinalIgnoreCase)
            && (Text(header, "type") ?? "Exact") == "Exact"
            && Text(header, "value") == track));

    // A backendRef names a Service when its group is core and its kind Service (both the defaults) in the route's namespace.
    private static bool Names(JsonNode? backendRef, string service, string? ns) =>
        backendRef is JsonObject r
        && Text(r, "name") == service
        && (Text(r, "group") ?? "") == ""
        && (Text(r, "kind") ?? "Service") == "Service"
        && (Text(r, "namespace") is null || Text(r, "namespace") == ns);

    private static bool SetWeight(JsonNode backendRef, int weight)
    {
        var current = backendRef["weight"] is JsonValue v && v.TryGetValue<int>(out var w) ? w : DefaultWeight;
        if (current == weight && backendRef["weight"] is not null) return false;
        backendRef["weight"] = weight;
        return current != weight;
    }

    private static string Describe(JsonNode? backendRef)
    {
        if (backendRef is not JsonObject r) return "?";
        var kind = Text(r, "kind") ?? "Service";
        var port = r["port"] is JsonValue p && p.TryGetValue<int>(out var n) ? ":" + n.ToString(CultureInfo.InvariantCulture) : "";
        return $"{kind} {Text(r, "name")}{port}";
    }

    private static string? Text(JsonObject o, string key) => o[key] is JsonValue v && v.TryGetValue<string>(out var s) ? s : null;
}
