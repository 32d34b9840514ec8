using GruOperator.Api;
using GruOperator.Providers.Prometheus;

namespace GruOperator.Tenancy;

/// <summary>
/// What an admin lets a GruModel author do. Whoever may create a GruModel may create pods in its namespace through the
/// operator, so these bounds are checked with the spec (a model outside them is InvalidSpec, naming the bound):
/// which Prometheus the operator's identity is sent to, and which images may run.
/// </summary>
internal sealed record TenantBounds(PrometheusAddressPolicy Prometheus, IReadOnlyList<string> ImagePrefixes)
{
    /// <summary>No bounds beyond the default Prometheus: for tests of the rest of the spec.</summary>
    public static TenantBounds Unbounded { get; } = new(new PrometheusAddressPolicy([]), []);

    /// <summary>Every bound <paramref name="spec"/> oversteps, each naming the field, the bound and the fix.</summary>
    public IEnumerable<string> Problems(GruModelSpec spec)
    {
        if (spec.Prometheus?.Address is { Length: > 0 } address && !ReferenceEquals(this, Unbounded)
            && Prometheus.Problem(address, "spec.prometheus.address") is { } prometheus)
        {
            yield return prometheus;
        }

        // The operator's own default image is the admin's choice and always allowed.
        if (ImagePrefixes.Count > 0 && spec.Serving?.Image is { Length: > 0 } image
            && !ImagePrefixes.Any(p => image.StartsWith(p, StringComparison.Ordinal)))
        {
            yield return $"spec.serving.image '{image}' is not allowed here: images must start with one of {string.Join(", ", ImagePrefixes)} " +
                "(the operator's --allowed-image-prefixes), or leave it empty for the default server image";
        }
    }
}
