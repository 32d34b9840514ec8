namespace GruRegistry.Distribution;

/// <summary>
/// The <c>PATH.partial</c> file a verified download streams into (an oci:// blob, an https:// model file): it is moved to
/// PATH only once its digest matches, and removed otherwise, so PATH never holds unverified bytes.
/// </summary>
public static class PartialFile
{
    /// <summary>Creates the directory of <paramref name="partialPath"/> and opens the file for writing; failures name <paramref name="source"/>.</summary>
    public static FileStream Create(string partialPath, string source, int bufferSize)
    {
        try
        {
            Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(partialPath))!);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new RegistryException(RegistryErrorKind.Local, $"{source}: cannot create the directory of '{partialPath}': {ex.Message}", ex);
        }

        try
        {
            return new FileStream(partialPath, FileMode.Create, FileAccess.Write, FileShare.None, bufferSize, FileOptions.Asynchronous);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new RegistryException(RegistryErrorKind.Local, $"{source}: cannot write '{partialPath}': {ex.Message}", ex);
        }
    }

    /// <summary>Removes a refused or broken-off download; a failure to remove it never hides the failure being reported.</summary>
    public static void TryDelete(string partialPath)
    {
        try
        {
            File.Delete(partialPath);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // the refusal matters more than a leftover partial file
        }
    }
}
