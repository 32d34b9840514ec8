namespace GruServer.Mirroring;

/// <summary>Which requests are copied. A Stateful sequence is in or out as a whole, decided by a hash of its id that
/// every request of it (and every stable replica) computes alike, so the canary sees it from start to end.</summary>
internal static class MirrorSampler
{
    /// <summary>True when the sequence <paramref name="sequenceId"/> falls in the sampled fraction.</summary>
    public static bool IncludesSequence(string sequenceId, double sample) => sample >= 1 || Unit(Hash(sequenceId)) < sample;

    /// <summary>True when a stateless request with the uniform draw <paramref name="draw"/> in [0, 1) is sampled.</summary>
    public static bool IncludesRequest(double draw, double sample) => sample >= 1 || draw < sample;

    /// <summary>The send lane of a sequence: all its requests go through one lane, so they reach the canary in order.</summary>
    public static int LaneOf(string sequenceId, int lanes) => (int)(Hash(sequenceId) % (ulong)lanes);

    /// <summary>FNV-1a over the UTF-16 code units: stable across processes and machines, unlike string.GetHashCode.</summary>
    internal static ulong Hash(string text)
    {
        var hash = 14695981039346656037UL;
        foreach (var c in text)
        {
            hash = (hash ^ c) * 1099511628211UL;
        }

        // FNV's low bits mix poorly for short keys; a final avalanche (splitmix64's) spreads them over the whole word.
        hash ^= hash >> 33;
        hash *= 0xff51afd7ed558ccdUL;
        hash ^= hash >> 33;
        return hash;
    }

    private static double Unit(ulong hash) => (hash >> 11) * (1.0 / (1UL << 53));
}
