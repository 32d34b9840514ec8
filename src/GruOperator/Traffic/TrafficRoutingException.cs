namespace GruOperator.Traffic;

/// <summary>
/// A traffic split that cannot be written, for a reason the user fixes (a missing route or CRD, a route without the
/// model's backends, missing RBAC): <see cref="Reason"/> is a condition/Event reason, the message says what to do.
/// </summary>
internal sealed class TrafficRoutingException(string reason, string message) : Exception(message)
{
    /// <summary>The named HTTPRoute does not exist in the model's namespace.</summary>
    public const string RouteNotFound = "HTTPRouteNotFound";

    /// <summary>The Gateway API HTTPRoute CRD (gateway.networking.k8s.io/v1) is not installed.</summary>
    public const string GatewayApiMissing = "GatewayAPINotInstalled";

    /// <summary>The route has no rule that sends traffic to exactly the model's two track Services.</summary>
    public const string BackendsMissing = "HTTPRouteBackendsMissing";

    /// <summary>The operator's ServiceAccount may not read or patch the route.</summary>
    public const string Forbidden = "HTTPRouteForbidden";

    /// <summary>A CamelCase reason for a condition or Event.</summary>
    public string Reason { get; } = reason;
}
