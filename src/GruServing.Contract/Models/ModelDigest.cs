namespace GruServing.Contract.Models;

/// <summary>The sha256 of a model file: 64 lowercase hex digits, written <c>sha256:&lt;hex&gt;</c>.</summary>
/// <remarks>
/// One case rule everywhere (the CRD pattern, the operator, GruServer's <c>--model-sha256</c>): lowercase, as
/// <c>sha256sum</c> prints it and as the OCI image spec requires of digests. Upper case is refused with a message
/// that says so rather than silently folded, so the text a user pins is the text every component reports.
/// </remarks>
public sealed record ModelDigest
{
    /// <summary>The prefix of the written form.</summary>
    public const string Prefix = "sha256:";

    /// <summary>The grammar without anchors: an optional <c>sha256:</c> prefix and 64 lowercase hex digits.</summary>
    public const string Grammar = "(sha256:)?[a-f0-9]{64}";

    /// <summary>What error messages ask for.</summary>
    public const string Expected = "64 lowercase hex digits (as sha256sum prints them), optionally prefixed sha256:";

    private ModelDigest(string hex) => Hex = hex;

    /// <summary>The 64 lowercase hex digits, without prefix.</summary>
    public string Hex { get; }

    /// <summary>Parses <c>&lt;hex&gt;</c> or <c>sha256:&lt;hex&gt;</c>; null when <paramref name="text"/> is not a digest.</summary>
    public static ModelDigest? TryParse(string? text)
    {
        if (text is null) return null;
        var hex = text.StartsWith(Prefix, StringComparison.Ordinal) ? text[Prefix.Length..] : text;
        return hex.Length == 64 && hex.All(c => char.IsAsciiDigit(c) || c is >= 'a' and <= 'f') ? new ModelDigest(hex) : null;
    }

    /// <summary>The written form, <c>sha256:&lt;hex&gt;</c>.</summary>
    public override string ToString() => Prefix + Hex;
}
