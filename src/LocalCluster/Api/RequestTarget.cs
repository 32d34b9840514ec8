using Kube.Local.Resources;

namespace Kube.Local.Api;

/// <summary>A resource request resolved from its path: /api/v1/namespaces/{ns}/{resource}/{name}/{subresource}.</summary>
internal sealed record RequestTarget(ResourceType Type, string? Namespace, string? Name, string? Subresource)
{
    /// <summary>Resolves the path segments after the group-version prefix; null when nothing is served there.</summary>
    public static RequestTarget? Resolve(ResourceCatalog catalog, string group, string version, string[] rest)
    {
        if (rest.Length == 0) return null;
        if (rest.Length >= 3 && rest[0] == "namespaces" && catalog.Find(group, version, rest[2]) is { Namespaced: true } nsType)
        {
            if (rest.Length > 5) return null;
            return new RequestTarget(nsType, rest[1], rest.ElementAtOrDefault(3), rest.ElementAtOrDefault(4));
        }
        var type = catalog.Find(group, version, rest[0]);
        if (type is null || rest.Length > 3) return null;
        if (type.Namespaced && rest.Length > 1) return null;
        return new RequestTarget(type, null, rest.ElementAtOrDefault(1), rest.ElementAtOrDefault(2));
    }
}
