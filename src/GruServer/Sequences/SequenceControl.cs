using GruServer.Inference;

namespace GruServer.Sequences;

/// <summary>Which sequence a Stateful request continues, as Triton's sequence batcher names it: <c>sequence_id</c>,
/// <c>sequence_start</c>, <c>sequence_end</c>; plus this server's client-held state: <c>sequence_state</c> (a state a
/// previous response returned, to continue on any replica) and <c>sequence_state_return</c> (ask for it back).</summary>
internal sealed record SequenceControl(string Id, bool Start, bool End, byte[]? State, bool ReturnState);

/// <summary>The request parameters of <see cref="SequenceControl"/>, read the same way from HTTP JSON and gRPC.</summary>
internal static class SequenceParameters
{
    public const string Id = "sequence_id";
    public const string Start = "sequence_start";
    public const string End = "sequence_end";
    public const string State = "sequence_state";
    public const string ReturnState = "sequence_state_return";

    /// <summary>Response parameter, true on answers of a server that is shutting down: hold the <see cref="State"/> it
    /// carries and send it with the sequence's next request, which may reach another replica.</summary>
    public const string Handoff = "sequence_handoff";

    /// <summary>True for the parameter names this type reads (the readers collect only these).</summary>
    public static bool IsSequenceParameter(string name) => name is Id or Start or End or State or ReturnState;

    /// <summary>The sequence a request names, or null when it names none. Values are what the protocol carried:
    /// string, long or bool; anything else is refused naming the parameter.</summary>
    public static SequenceControl? From(IReadOnlyDictionary<string, object> parameters)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        if (parameters.Count == 0)
        {
            return null;
        }

        var id = parameters.TryGetValue(Id, out var raw) ? raw switch
        {
            string { Length: > 0 and <= 256 } text => text,
            long number and not 0 => number.ToString(System.Globalization.CultureInfo.InvariantCulture),
            _ => throw Invalid($"parameter {Id} must be a non-empty string of at most 256 characters or a non-zero integer"),
        } : throw Invalid($"parameters {string.Join(", ", parameters.Keys.Order(StringComparer.Ordinal))} need a {Id} naming the sequence");
        byte[]? state = null;
        if (parameters.TryGetValue(State, out var stateText))
        {
            try
            {
                state = Convert.FromBase64String(stateText as string ?? throw new FormatException());
            }
            catch (FormatException)
            {
                throw Invalid($"parameter {State} must be the base64 string a previous response returned as {State}");
            }
        }

        var control = new SequenceControl(id, Flag(parameters, Start), Flag(parameters, End), state, Flag(parameters, ReturnState));
        return control.Start && control.State is not null
            ? throw Invalid($"sequence '{id}' has both {Start} and {State}: send {Start}=true to begin it anew, or {State} to continue from a state you hold")
            : control;
    }

    private static bool Flag(IReadOnlyDictionary<string, object> parameters, string name) =>
        parameters.TryGetValue(name, out var value) && (value is bool flag ? flag : throw Invalid($"parameter {name} must be true or false"));

    private static InferenceException Invalid(string message) => InferenceException.Invalid(SchemaErrorReasons.InvalidSequence, message + ".");
}
