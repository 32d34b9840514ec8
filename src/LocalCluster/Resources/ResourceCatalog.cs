namespace Kube.Local.Resources;

/// <summary>
/// The resources the server serves: the built-ins plus whatever established CRDs add. Discovery reads it,
/// request routing resolves paths through it. Swapped as an immutable snapshot so readers never lock.
/// </summary>
internal sealed class ResourceCatalog
{
    private readonly object _gate = new();
    private volatile IReadOnlyList<ResourceType> _all;

    public ResourceCatalog()
    {
        _all = BuiltInResources.All.Select(r => r.Normalize()).ToList();
    }

    public IReadOnlyList<ResourceType> All => _all;

    public ResourceType? Find(string group, string version, string plural)
    {
        foreach (var r in _all)
        {
            if (r.Plural == plural && r.Version == version && r.Group == group) return r;
        }
        return null;
    }

    public ResourceType? FindKind(string group, string version, string kind)
    {
        foreach (var r in _all)
        {
            if (r.Kind == kind && r.Version == version && r.Group == group) return r;
        }
        return null;
    }

    public bool HasGroupVersion(string group, string version) => _all.Any(r => r.Group == group && r.Version == version);

    /// <summary>Groups in discovery order (built-in first, as registered), each with its versions, preferred first.</summary>
    public IReadOnlyList<(string Group, IReadOnlyList<string> Versions)> Groups()
    {
        var groups = new List<(string, IReadOnlyList<string>)>();
        foreach (var group in _all.Where(r => r.Group.Length > 0).Select(r => r.Group).Distinct())
        {
            var versions = _all.Where(r => r.Group == group).Select(r => r.Version).Distinct().ToList();
            versions.Sort(CompareVersionPriority);
            groups.Add((group, versions));
        }
        return groups;
    }

    /// <summary>Replaces the custom resources that one CRD serves (empty list to remove them).</summary>
    public void SetCustomResources(string crdName, IReadOnlyList<ResourceType> served)
    {
        lock (_gate)
        {
            var next = _all.Where(r => r.IsBuiltIn || CrdNameOf(r) != crdName).ToList();
            next.AddRange(served.Select(r => r.Normalize()));
            _all = next;
        }
    }

    private static string CrdNameOf(ResourceType r) => $"{r.Plural}.{r.Group}";

    /// <summary>Kubernetes version priority: GA before beta before alpha, higher numbers first.</summary>
    internal static int CompareVersionPriority(string a, string b)
    {
        static (int Level, int Major, int Minor) Parse(string v)
        {
            var m = System.Text.RegularExpressions.Regex.Match(v, "^v(\\d+)(?:(alpha|beta)(\\d+))?$");
            if (!m.Success) return (-1, 0, 0);
            var level = m.Groups[2].Value switch { "" => 2, "beta" => 1, _ => 0 };
            return (level, int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture),
                m.Groups[3].Success && m.Groups[3].Value.Length > 0 ? int.Parse(m.Groups[3].Value, System.Globalization.CultureInfo.InvariantCulture) : 0);
        }
        var pa = Parse(a);
        var pb = Parse(b);
        if (pa.Level != pb.Level) return pb.Level.CompareTo(pa.Level);
        if (pa.Major != pb.Major) return pb.Major.CompareTo(pa.Major);
        if (pa.Minor != pb.Minor) return pb.Minor.CompareTo(pa.Minor);
        return string.CompareOrdinal(a, b);
    }
}
