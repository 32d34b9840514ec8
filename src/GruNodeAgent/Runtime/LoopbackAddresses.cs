namespace GruNodeAgent.Runtime;

/// <summary>
/// Hands each pod its own 127.0.0.N (Linux routes all of 127.0.0.0/8 to the loopback interface), so every pod can
/// listen on its declared ports as it would on its own network namespace.
/// </summary>
internal sealed class LoopbackAddresses(int first)
{
    private readonly Lock _lock = new();
    private readonly Dictionary<string, int> _byPod = new(StringComparer.Ordinal);

    /// <summary>The pod's address: the one it had (<paramref name="previous"/>) when still free, else the lowest free one.</summary>
    public string Acquire(string podUid, string? previous)
    {
        lock (_lock)
        {
            if (_byPod.TryGetValue(podUid, out var held)) return Format(held);
            var used = _byPod.Values.ToHashSet();
            if (previous is { } p && p.StartsWith("127.0.0.", StringComparison.Ordinal) && int.TryParse(p.AsSpan(8), out var n) && n >= first && n <= 254 && !used.Contains(n))
            {
                _byPod[podUid] = n;
                return p;
            }

            for (var candidate = first; candidate <= 254; candidate++)
            {
                if (used.Contains(candidate)) continue;
                _byPod[podUid] = candidate;
                return Format(candidate);
            }

            throw new InvalidOperationException($"no free loopback address left in 127.0.0.{first}-254 for pod {podUid}");
        }
    }

    public void Release(string podUid)
    {
        lock (_lock) _byPod.Remove(podUid);
    }

    private static string Format(int n) => $"127.0.0.{n}";
}
