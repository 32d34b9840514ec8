using System.Text.Json.Serialization;

namespace GruServing.Contract.Serving;

/// <summary>Whether the server keeps a sequence's hidden state between requests: the CRD's
/// <c>serving.sessions.mode</c> and GruServer's <c>--sessions-mode</c>.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<SessionMode>))]
public enum SessionMode
{
    /// <summary>Each request carries the whole sequence.</summary>
    Stateless,

    /// <summary>The server keeps hidden state per sequence id.</summary>
    Stateful,
}

/// <summary>Reads <see cref="SessionMode"/> exactly as the CRD's enum spells it.</summary>
public static class SessionModes
{
    /// <summary>How error messages list the choices.</summary>
    public const string Choices = "Stateless or Stateful";

    /// <summary>Parses a name as the CRD spells it (case-sensitive, no numbers).</summary>
    public static bool TryParse(string? text, out SessionMode mode)
    {
        foreach (var candidate in Enum.GetValues<SessionMode>())
        {
            if (string.Equals(text, candidate.ToString(), StringComparison.Ordinal))
            {
                mode = candidate;
                return true;
            }
        }

        mode = SessionMode.Stateless;
        return false;
    }
}
