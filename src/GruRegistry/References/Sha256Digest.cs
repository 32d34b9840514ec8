using System.Diagnostics.CodeAnalysis;
using System.Security.Cryptography;

namespace GruRegistry.References;

/// <summary>
/// An OCI content digest with the sha256 algorithm, always in its canonical form <c>sha256:&lt;64 lowercase hex&gt;</c>.
/// The registry client needs only this one algorithm (every registry computes sha256), so this small type
/// stays here instead of a general digest library.
/// </summary>
public readonly record struct Sha256Digest
{
    private const string Prefix = "sha256:";

    private Sha256Digest(string hex) => Hex = hex;

    /// <summary>The 64 lowercase hex characters, without the algorithm prefix.</summary>
    public string Hex { get; }

    /// <summary>The digest of <paramref name="content"/>.</summary>
    public static Sha256Digest Of(ReadOnlySpan<byte> content) => new(Convert.ToHexStringLower(SHA256.HashData(content)));

    /// <summary>A digest from a finished hash of 32 bytes.</summary>
    public static Sha256Digest FromHash(ReadOnlySpan<byte> hash) =>
        hash.Length == 32 ? new(Convert.ToHexStringLower(hash)) : throw new ArgumentException("a sha256 hash has 32 bytes", nameof(hash));

    /// <summary>The digest of a file, read once.</summary>
    public static async Task<Sha256Digest> OfFileAsync(string path, CancellationToken cancellationToken)
    {
        await using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.Asynchronous | FileOptions.SequentialScan);
        return FromHash(await SHA256.HashDataAsync(stream, cancellationToken).ConfigureAwait(false));
    }

    /// <summary>Parses <c>sha256:&lt;hex&gt;</c>; throws <see cref="FormatException"/> saying what is wrong.</summary>
    public static Sha256Digest Parse(string text) =>
        TryParse(text, out var digest, out var error) ? digest : throw new FormatException(error);

    /// <summary>Parses <c>sha256:&lt;64 lowercase hex&gt;</c>, the only form the OCI specs allow for sha256.</summary>
    public static bool TryParse(string? text, out Sha256Digest digest, [NotNullWhen(false)] out string? error)
    {
        digest = default;
        if (string.IsNullOrEmpty(text))
        {
            error = "the digest is empty; expected sha256:<64 hex characters>";
            return false;
        }

        var colon = text.IndexOf(':', StringComparison.Ordinal);
        if (colon < 0)
        {
            error = $"'{text}' has no algorithm; expected sha256:<64 hex characters>";
            return false;
        }

        if (!text.StartsWith(Prefix, StringComparison.Ordinal))
        {
            error = $"'{text}' uses the digest algorithm '{text[..colon]}'; only sha256 is supported";
            return false;
        }

        var hex = text[Prefix.Length..];
        if (hex.Length != 64 || !hex.All(c => char.IsAsciiDigit(c) || c is >= 'a' and <= 'f'))
        {
            error = $"'{text}' is not a sha256 digest; expected sha256: and 64 lowercase hex characters";
            return false;
        }

        digest = new Sha256Digest(hex);
        error = null;
        return true;
    }

    /// <inheritdoc/>
    public override string ToString() => Hex is null ? "" : Prefix + Hex;
}
