using GruServing.Contract.Models;

namespace GruOperator.Providers.Prometheus;

/// <summary>
/// The Prometheus servers the operator's Prometheus identity (bearer token, basic auth, CA) may be sent to: its default
/// address plus <c>Prometheus:AllowedAddresses</c>. A GruModel's <c>spec.prometheus.address</c> is set by whoever may
/// create GruModels, so anything else is refused before a request is made (like an Argo CD AppProject's allowed sources).
/// An allowed entry matches its scheme, host and port exactly and its path as a prefix; addresses carrying user info,
/// a query or a fragment never match.
/// </summary>
public sealed class PrometheusAddressPolicy
{
    private readonly IReadOnlyList<Uri> _allowed;

    /// <summary>A policy allowing exactly <paramref name="allowed"/> (absolute http(s) URLs; others are ignored).</summary>
    public PrometheusAddressPolicy(IEnumerable<Uri?> allowed)
    {
        _allowed = allowed.OfType<Uri>().Where(IsHttp).Select(Normalize).DistinctBy(u => u.AbsoluteUri).ToList();
    }

    /// <summary>The allowed addresses, comma-separated, for messages that say what may be used instead.</summary>
    public string Allowed => _allowed.Count == 0 ? "(none)" : string.Join(", ", _allowed.Select(u => u.AbsoluteUri.TrimEnd('/')));

    /// <summary>
    /// The default (<paramref name="defaults"/>, e.g. <c>--prometheus-address</c> and <c>Prometheus:Address</c>) plus the
    /// comma-separated <see cref="PrometheusOptions.AllowedAddresses"/>.
    /// </summary>
    public static PrometheusAddressPolicy From(PrometheusOptions options, params string?[] defaults)
    {
        ArgumentNullException.ThrowIfNull(options);
        var entries = Split(options.AllowedAddresses).Concat(defaults.Where(d => !string.IsNullOrWhiteSpace(d)).Select(d => d!.Trim()));
        return new PrometheusAddressPolicy(entries.Select(e => Uri.TryCreate(e, UriKind.Absolute, out var u) ? u : null).Append(options.Address));
    }

    /// <summary>The comma-separated entries of an allowed-addresses setting.</summary>
    public static IReadOnlyList<string> Split(string? list) =>
        (list ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    /// <summary>True when the operator may send its Prometheus identity to <paramref name="address"/>.</summary>
    public bool Allows(Uri address)
    {
        ArgumentNullException.ThrowIfNull(address);
        if (!address.IsAbsoluteUri || !IsHttp(address) || address.UserInfo.Length > 0 || address.Query.Length > 0 || address.Fragment.Length > 0)
        {
            return false;
        }

        var candidate = Normalize(address);
        return _allowed.Any(a =>
            a.Scheme == candidate.Scheme
            && string.Equals(a.Host, candidate.Host, StringComparison.OrdinalIgnoreCase)
            && a.Port == candidate.Port
            && candidate.AbsolutePath.StartsWith(a.AbsolutePath, StringComparison.Ordinal));
    }

    /// <summary>Why <paramref name="address"/> may not be used, naming the field and the allowed list; null when it may.</summary>
    public string? Problem(string address, string field) =>
        Uri.TryCreate(address, UriKind.Absolute, out var uri) && Allows(uri)
            ? null
            : $"{field} '{RedactedUri.Of(address)}' is not a Prometheus the operator may send its credentials to; use one of {Allowed} " +
              "or leave it empty for the default (an admin adds addresses with --prometheus-allowed-addresses)";

    private static bool IsHttp(Uri uri) => uri.IsAbsoluteUri && uri.Scheme is "http" or "https";

    // Paths compare with a trailing slash, so http://p:9090/prom allows /prom/ and /prom/x but not /prometheus.
    private static Uri Normalize(Uri uri) =>
        new UriBuilder(uri.Scheme, uri.Host, uri.Port, uri.AbsolutePath.EndsWith('/') ? uri.AbsolutePath : uri.AbsolutePath + "/").Uri;
}
