"""What more than one cog uses: persistent-button checks, message bodies and colours,
interaction replies, spending-limit answers. Imports no cog."""
