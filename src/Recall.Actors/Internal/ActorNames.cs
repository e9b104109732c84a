namespace Recall.Actors.Internal;

/// <summary>Rules for actor names and the generated names of anonymous actors.</summary>
internal static class ActorNames
{
    private const string Alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+~";

    /// <summary>A name made from a counter: $a, $b, ... ; '$' is reserved for generated names.</summary>
    public static string Generate(long number)
    {
        Span<char> buffer = stackalloc char[12];
        var position = buffer.Length;
        do
        {
            buffer[--position] = Alphabet[(int)(number & 63)];
            number >>= 6;
        }
        while (number != 0);

        buffer[--position] = '$';
        return new string(buffer[position..]);
    }

    public static void Validate(string name, ActorPath parent)
    {
        if (name.Length == 0)
        {
            throw new InvalidActorNameException($"An actor name under {parent} must not be empty.");
        }

        if (name[0] == '$')
        {
            throw new InvalidActorNameException($"Actor name '{name}' under {parent} starts with '$', which is reserved for generated names.");
        }

        foreach (var c in name)
        {
            if (!(char.IsLetterOrDigit(c) || "-_.:@&=+,!~*'()$;%".Contains(c, StringComparison.Ordinal)))
            {
                throw new InvalidActorNameException($"Actor name '{name}' under {parent} contains '{c}'; use letters, digits and -_.:@&=+,!~*'()$;%.");
            }
        }
    }
}
