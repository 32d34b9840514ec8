using System.Collections;
using System.Globalization;

namespace ControllerRuntime.Controllers;

/// <summary>
/// The logging scope of one reconcile: structured key/value pairs for structured sinks, and a one-line
/// <see cref="ToString"/> for text sinks (ASP.NET Core's HostingLogScope does the same; a plain dictionary would print
/// its type name).
/// </summary>
internal sealed class ReconcileScope(string controller, string? @namespace, string name, long reconcileId)
    : IReadOnlyList<KeyValuePair<string, object?>>
{
    public int Count => 4;

    public KeyValuePair<string, object?> this[int index] => index switch
    {
        0 => new("Controller", controller),
        1 => new("Namespace", @namespace),
        2 => new("Name", name),
        3 => new("ReconcileId", reconcileId),
        _ => throw new ArgumentOutOfRangeException(nameof(index)),
    };

    public IEnumerator<KeyValuePair<string, object?>> GetEnumerator()
    {
        for (var i = 0; i < Count; i++) yield return this[i];
    }

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    /// <summary>e.g. <c>Controller:grumodel Object:ml/session-recs ReconcileId:42</c>.</summary>
    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"Controller:{controller} Object:{(string.IsNullOrEmpty(@namespace) ? name : @namespace + "/" + name)} ReconcileId:{reconcileId}");
}
