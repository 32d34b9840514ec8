using System.Text.Json.Nodes;

namespace Kube.Local.Api;

/// <summary>One cause of an Invalid error, as in metav1.StatusCause.</summary>
internal sealed record StatusCause(string Reason, string Message, string Field);

/// <summary>A failed API call that is answered as a metav1.Status with the given code and reason.</summary>
internal sealed class ApiError : Exception
{
    public ApiError(int code, string reason, string message, string? name = null, string? group = null, string? kind = null,
        IReadOnlyList<StatusCause>? causes = null, int? retryAfterSeconds = null)
        : base(message)
    {
        Code = code;
        Reason = reason;
        Name = name;
        Group = group;
        Kind = kind;
        Causes = causes ?? [];
        RetryAfterSeconds = retryAfterSeconds;
    }

    public int Code { get; }
    public string Reason { get; }
    public string? Name { get; }
    public string? Group { get; }
    public string? Kind { get; }
    public IReadOnlyList<StatusCause> Causes { get; }
    public int? RetryAfterSeconds { get; }

    /// <summary>The qualified resource as the API server prints it: "configmaps" or "grumodels.serving.gru.dev".</summary>
    private static string Qualified(string group, string resource) => group.Length == 0 ? resource : $"{resource}.{group}";

    public static ApiError NotFound(string group, string resource, string name) =>
        new(404, "NotFound", $"{Qualified(group, resource)} \"{name}\" not found", name, group, resource);

    public static ApiError AlreadyExists(string group, string resource, string name) =>
        new(409, "AlreadyExists", $"{Qualified(group, resource)} \"{name}\" already exists", name, group, resource);

    public static ApiError Conflict(string group, string resource, string name, string why) =>
        new(409, "Conflict", $"Operation cannot be fulfilled on {Qualified(group, resource)} \"{name}\": {why}", name, group, resource);

    public static ApiError StaleResourceVersion(string group, string resource, string name) =>
        Conflict(group, resource, name, "the object has been modified; please apply your changes to the latest version and try again");

    public static ApiError BadRequest(string message) => new(400, "BadRequest", message);

    public static ApiError Expired(string message) => new(410, "Expired", message);

    public static ApiError MethodNotAllowed(string message) => new(405, "MethodNotAllowed", message);

    public static ApiError UnsupportedMediaType(string contentType) =>
        new(415, "UnsupportedMediaType", $"the body of the request was in an unknown format - accepted media types include: application/json, application/yaml, application/vnd.kubernetes.protobuf (Namespace, ConfigMap and Secret only); got {contentType}");

    public static ApiError Forbidden(string group, string resource, string name, string why, IReadOnlyList<StatusCause>? causes = null) =>
        new(403, "Forbidden", $"{Qualified(group, resource)} \"{name}\" is forbidden: {why}", name, group, resource, causes);

    /// <summary>NamespaceLifecycle's refusal of new content in a namespace being deleted, with its NamespaceTerminating cause.</summary>
    public static ApiError NamespaceTerminating(string group, string resource, string name, string ns) =>
        Forbidden(group, resource, name, $"unable to create new content in namespace {ns} because it is being terminated",
            [new StatusCause("NamespaceTerminating", $"namespace {ns} is being terminated", "metadata.namespace")]);

    /// <summary>422 Invalid: "Kind.group \"name\" is invalid: field: message, field: message".</summary>
    public static ApiError Invalid(string group, string kind, string name, IReadOnlyList<StatusCause> causes)
    {
        var qualifiedKind = group.Length == 0 ? kind : $"{kind}.{group}";
        var detail = causes.Count == 1
            ? $"{causes[0].Field}: {causes[0].Message}"
            : "[" + string.Join(", ", causes.Select(c => $"{c.Field}: {c.Message}")) + "]";
        return new ApiError(422, "Invalid", $"{qualifiedKind} \"{name}\" is invalid: {detail}", name, group, kind, causes);
    }

    public JsonObject ToStatus()
    {
        var status = new JsonObject
        {
            ["kind"] = "Status",
            ["apiVersion"] = "v1",
            ["metadata"] = new JsonObject(),
            ["status"] = "Failure",
            ["message"] = Message,
            ["reason"] = Reason,
        };
        if (Name is not null || Kind is not null || Causes.Count > 0 || RetryAfterSeconds is not null)
        {
            var details = new JsonObject();
            if (Name is not null) details["name"] = Name;
            if (!string.IsNullOrEmpty(Group)) details["group"] = Group;
            if (Kind is not null) details["kind"] = Kind;
            if (Causes.Count > 0)
            {
                details["causes"] = new JsonArray(Causes.Select(c => (JsonNode)new JsonObject
                {
                    ["reason"] = c.Reason,
                    ["message"] = c.Message,
                    ["field"] = c.Field,
                }).ToArray());
            }
            if (RetryAfterSeconds is { } retry) details["retryAfterSeconds"] = retry;
            status["details"] = details;
        }
        status["code"] = Code;
        return status;
    }

    /// <summary>The reason Kubernetes uses for a bare HTTP status code (used by fault injection).</summary>
    public static ApiError ForCode(int code, string message) => code switch
    {
        400 => new ApiError(code, "BadRequest", message),
        401 => new ApiError(code, "Unauthorized", message),
        403 => new ApiError(code, "Forbidden", message),
        404 => new ApiError(code, "NotFound", message),
        409 => new ApiError(code, "Conflict", message),
        410 => new ApiError(code, "Expired", message),
        422 => new ApiError(code, "Invalid", message),
        429 => new ApiError(code, "TooManyRequests", message, retryAfterSeconds: 1),
        503 => new ApiError(code, "ServiceUnavailable", message, retryAfterSeconds: 1),
        504 => new ApiError(code, "Timeout", message),
        _ => new ApiError(code, "InternalError", message),
    };
}
