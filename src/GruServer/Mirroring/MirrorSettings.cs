namespace GruServer.Mirroring;

/// <summary>Where and how much live traffic a stable server copies to its canary (the --mirror-* flags).</summary>
/// <param name="Target">The canary's inference base URL; a copy goes to the same path and query as the original.</param>
/// <param name="Sample">Fraction (0..1] of requests, or of Stateful sequences, copied.</param>
/// <param name="MaxConcurrency">Copies in flight at once; also the number of send lanes.</param>
/// <param name="MaxRate">Copies (new sequences, for Stateful) started per second.</param>
internal sealed record MirrorSettings(Uri Target, double Sample, int MaxConcurrency, double MaxRate);
