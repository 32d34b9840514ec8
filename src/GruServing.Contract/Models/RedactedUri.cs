namespace GruServing.Contract.Models;

/// <summary>
/// A URL as it may be shown (status, annotations, events, logs, errors): without user info, and with a query (a
/// presigned URL's signature, a token) reduced to "?…". The query stays only where the URL is used, never where it is read.
/// </summary>
public static class RedactedUri
{
    /// <summary><paramref name="uri"/> without secrets; text that is no absolute URL comes back as it is.</summary>
    public static string Of(string uri)
    {
        if (!Uri.TryCreate(uri, UriKind.Absolute, out var parsed) || parsed.IsFile || (parsed.UserInfo.Length == 0 && parsed.Query.Length == 0 && parsed.Fragment.Length == 0))
        {
            return uri;
        }

        return parsed.GetComponents(UriComponents.SchemeAndServer | UriComponents.Path, UriFormat.UriEscaped) + (parsed.Query.Length > 0 ? "?…" : "");
    }
}
